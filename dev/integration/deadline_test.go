package integration_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// A dependency that hangs: an endpoint that accepts the connection and never
// answers within the test (30 s, or until its client gives up).
const hangFor = 30 * time.Second

// invocationTimeout is the Timeout of the invocations below, and answeredBy
// what the tests assert: the work ends the 500 ms margin before the
// invocation does, and the answer comes then — well before the hang ends,
// with room for a loaded machine.
const (
	invocationTimeout = 3 * time.Second
	answeredBy        = 5 * time.Second
)

type hangingEndpoint struct {
	*httptest.Server
	requests atomic.Int32
}

func newHangingEndpoint(t *testing.T) *hangingEndpoint {
	t.Helper()
	h := &hangingEndpoint{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		h.requests.Add(1)
		// Read the body, so the server notices the client going away.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(hangFor):
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// awsConfig reaches the emulators (or a hanging endpoint) with dummy
// credentials; it needs no running stack.
func awsConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
}

// invokeAPI calls an HTTP function's handler as Lambda does: through the API
// Gateway adapter, under a context that ends with the invocation's Timeout.
func invokeAPI(t *testing.T, h http.Handler, method, path string, headers map[string]string, body string) (events.APIGatewayV2HTTPResponse, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), invocationTimeout)
	defer cancel()
	lower := map[string]string{}
	for k, v := range headers {
		lower[strings.ToLower(k)] = v
	}
	start := time.Now()
	resp, err := httpapi.LambdaHandler(h, "")(ctx, events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: path, Headers: lower, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp, time.Since(start)
}

func assertAnswer(t *testing.T, name string, resp events.APIGatewayV2HTTPResponse, took time.Duration, status int, code transfer.Code) {
	t.Helper()
	t.Logf("%s: %d in %v (invocation timeout %v)", name, resp.StatusCode, took, invocationTimeout)
	if resp.StatusCode != status || !strings.Contains(resp.Body, `"code":"`+string(code)+`"`) {
		t.Errorf("%s: %d %s, want %d %s", name, resp.StatusCode, resp.Body, status, code)
	}
	if took > answeredBy {
		t.Errorf("%s: answered after %v: the invocation (%v) would have timed out first", name, took, invocationTimeout)
	}
}

// A DynamoDB that hangs: both API functions answer 500 S0002 before their
// invocation ends (docs/contract.md §1.6), never a platform timeout.
func TestHangingDynamoDBAnswers500S0002(t *testing.T) {
	t.Parallel()
	ddb := newHangingEndpoint(t)
	clients := inprocess.NewClients(awsConfig(), inprocess.Endpoints{DynamoDB: ddb.URL, SQS: "http://127.0.0.1:1"})
	svc := inprocess.New(inprocess.Config{
		TableName: "transfers", TransferQueueURL: "http://127.0.0.1:1/000000000000/unused",
		JWT: auth.JWTConfig{HS256Secret: []byte(strings.Repeat("k", 32))},
	}, clients)
	token, _ := auth.NewPublisherToken(transfer.PublisherID(newID()))
	hdr := map[string]string{"X-Publisher-Token": token, "Content-Type": "application/json"}

	resp, took := invokeAPI(t, svc.TransferHandler(svc.Queue(clients)), http.MethodPost, "/purchases/transfers", hdr, transferBody(42, newTxID()))
	assertAnswer(t, "transfer", resp, took, http.StatusInternalServerError, transfer.CodeStorageFailure)
	resp, took = invokeAPI(t, svc.StatusHandler(), http.MethodGet, "/purchases/synchronizations/any-id", hdr, "")
	assertAnswer(t, "status", resp, took, http.StatusInternalServerError, transfer.CodeStorageFailure)
	if ddb.requests.Load() == 0 {
		t.Error("DynamoDB was never called")
	}
}

// A DynamoDB that hangs under the processor: the batch answers before its
// invocation ends, with the message as a batch item failure, so that SQS
// delivers it again — never a timeout that fails the whole batch.
func TestHangingDynamoDBFailsTheProcessorsMessage(t *testing.T) {
	t.Parallel()
	ddb := newHangingEndpoint(t)
	svc := inprocess.New(inprocess.Config{TableName: "transfers", MaxReceives: 5},
		inprocess.NewClients(awsConfig(), inprocess.Endpoints{DynamoDB: ddb.URL, SQS: "http://127.0.0.1:1"}))
	job, err := json.Marshal(transfer.Job{SynchronizationID: "S-hanging", PublisherID: transfer.PublisherID(newID())})
	if err != nil {
		t.Fatal(err)
	}
	event := events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: "m-1", ReceiptHandle: "rh-1", Body: string(job), EventSource: "aws:sqs",
		Attributes: map[string]string{"ApproximateReceiveCount": "1"},
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), invocationTimeout)
	defer cancel()
	start := time.Now()
	resp, err := svc.ProcessorBatchHandler()(ctx, event)
	took := time.Since(start)
	t.Logf("processor batch: %d failures in %v (invocation timeout %v)", len(resp.BatchItemFailures), took, invocationTimeout)
	if err != nil {
		t.Fatalf("the batch failed as a whole: %v", err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m-1" {
		t.Errorf("batch item failures = %+v, want m-1", resp.BatchItemFailures)
	}
	if took > answeredBy {
		t.Errorf("answered after %v: the invocation (%v) would have timed out first", took, invocationTimeout)
	}
	if ddb.requests.Load() == 0 {
		t.Error("DynamoDB was never called")
	}
}

// An SQS that hangs after the accepting transaction: 500 S0003 before the
// invocation ends; the rollback has the rest of the margin.
func TestHangingSQSAnswers500S0003(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	tx := newTxID()
	e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(24*time.Hour), tx)

	mq := newHangingEndpoint(t)
	clients := inprocess.NewClients(stack.AWSConfig(), inprocess.Endpoints{DynamoDB: stack.Endpoints().DynamoDB, SQS: mq.URL})
	svc := inprocess.New(e.svc.Config, clients)
	hdr := tokenHeader(pub)
	hdr["Correlation-Id"] = "hanging-sqs-" + tx
	resp, took := invokeAPI(t, svc.TransferHandler(svc.Queue(clients)), http.MethodPost, "/purchases/transfers", hdr, transferBody(cs[1], tx))
	assertAnswer(t, "transfer", resp, took, http.StatusInternalServerError, transfer.CodeQueueFailure)
	if mq.requests.Load() == 0 {
		t.Error("SQS was never called")
	}
	// Whether the rollback made it within its 200 ms is for the log: when it
	// does not, the lock lease and the sweeper clear the attempt (G2).
	if r := e.status(tokenHeader(pub), hdr["Correlation-Id"]); r.status == http.StatusNotFound {
		t.Log("rolled back: the synchronization is gone")
	} else {
		t.Logf("not rolled back in time: the status answers %d %s", r.status, r.raw)
	}
}
