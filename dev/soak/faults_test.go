package soak

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// fakeAWS answers every request 200 {} and counts what reached it.
func fakeAWS(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var reached atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		reached.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(s.Close)
	return s, &reached
}

func clientsWith(in *Injector, endpoint string) (*dynamodb.Client, *sqs.Client) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
		HTTPClient: &http.Client{Transport: in.Transport(http.DefaultTransport)}}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = &endpoint }),
		sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = &endpoint })
}

func twoItems() *dynamodb.TransactWriteItemsInput {
	table := "t"
	item := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}}
	return &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &table, Item: item}}, {Put: &types.Put{TableName: &table, Item: item}}}}
}

// A TransactionConflict is answered without reaching AWS, as DynamoDB's own:
// one reason per item, which the service's adapter reads.
func TestConflictIsDynamoDBsCancellation(t *testing.T) {
	srv, reached := fakeAWS(t)
	tally := NewTally()
	db, _ := clientsWith(NewInjector(Faults{Conflict: 1}, tally, 1), srv.URL)
	_, err := db.TransactWriteItems(context.Background(), twoItems())
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) || len(cancelled.CancellationReasons) != 2 || aws.ToString(cancelled.CancellationReasons[0].Code) != "TransactionConflict" {
		t.Fatalf("err = %v, want TransactionCanceledException with 2 reasons, the first TransactionConflict", err)
	}
	if reached.Load() != 0 || tally.Counts()[FaultConflict] != 1 {
		t.Errorf("reached AWS %d times, counted %v", reached.Load(), tally.Counts())
	}
}

// An ambiguous failure reaches AWS and commits; every attempt the SDK makes
// does, and the caller sees an error.
func TestAmbiguousCommitsAndLosesTheAnswer(t *testing.T) {
	srv, reached := fakeAWS(t)
	tally := NewTally()
	_, q := clientsWith(NewInjector(Faults{Ambiguous: 1}, tally, 1), srv.URL)
	_, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(srv.URL + "/q"), MessageBody: aws.String("x")})
	if err == nil {
		t.Fatal("the answer was not lost")
	}
	if n := reached.Load(); n != 3 || tally.Counts()[FaultAmbiguous] != 3 {
		t.Errorf("reached AWS %d times (want the SDK's 3 attempts), counted %v", n, tally.Counts())
	}
}

// Errors before sending and throttling never reach AWS; healed, nothing is injected.
func TestPreSendThrottleAndHeal(t *testing.T) {
	srv, reached := fakeAWS(t)
	tally := NewTally()
	in := NewInjector(Faults{PreSend: 1}, tally, 1)
	db, _ := clientsWith(in, srv.URL)
	if _, err := db.TransactWriteItems(context.Background(), twoItems()); err == nil {
		t.Fatal("no error before sending")
	}
	in.Faults = Faults{Throttle: 1}
	_, err := db.TransactWriteItems(context.Background(), twoItems(), func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	if err == nil || reached.Load() != 0 {
		t.Fatalf("throttled: err %v, reached %d", err, reached.Load())
	}
	in.Heal()
	if _, err := db.TransactWriteItems(context.Background(), twoItems()); err != nil || reached.Load() != 1 {
		t.Fatalf("healed: err %v, reached %d", err, reached.Load())
	}
	c := tally.Counts()
	if c[FaultPreSend] < 2 || c[FaultThrottle] != 1 { // the SDK tried again
		t.Errorf("counts %v", c)
	}
}
