package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/acme/purchase-transfer/dev/bench"
	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/directorycache"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/transfer"
)

func TestMain(m *testing.M) {
	// What the Lambdas log (JSON, Lambda's keys) is part of their cost: keep
	// the formatting, drop the output.
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{ReplaceAttr: lambdacontext.ReplaceAttr})))
	os.Exit(m.Run())
}

const (
	table    = "TransfersTable"
	queueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/TransferQueue"
	region   = "us-east-1"
)

// fixture is one publisher's data in a FakeDynamo: a purchase owned by one
// customer, the target customer, a finalized synchronization (for status) and
// an open one holding both locks (for the processor).
type fixture struct {
	db        *bench.FakeDynamo
	publisher transfer.PublisherID
	token     string
	jwtSecret []byte
	jwt       string
	owner     transfer.CustomerID
	target    transfer.CustomerID
	tx, otx   string
	statusID  string
	job       transfer.Job
	body      string
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	f := &fixture{
		db:        bench.NewFakeDynamo(),
		publisher: 100000001,
		owner:     900000001,
		target:    900000002,
		tx:        "2000000000000001",
		otx:       "2000000000000001",
		jwtSecret: []byte("bench-secret-bench-secret-bench-secret"),
	}
	stores := inprocess.NewStores(dynamo.NewTable(f.db, table))
	store := stores.Operator
	var hash string
	f.token, hash = auth.NewPublisherToken(f.publisher)
	var err error
	if f.jwt, err = auth.MintHS256(f.jwtSecret, f.publisher, f.target, time.Hour); err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC()
	steps := []error{
		store.PutPublisher(ctx, transfer.Publisher{ID: f.publisher, Name: "Bench", StoreKit2Active: true}),
		store.PutToken(ctx, f.publisher, hash, "bench"),
		store.PutCustomers(ctx, f.publisher, f.owner, f.target),
		store.PutPurchase(ctx, transfer.Purchase{
			PublisherID: f.publisher, OriginalTransactionID: f.otx, TransactionIDs: []string{f.tx},
			Owner: f.owner, OfferID: "S123456789_US", ProductID: "com.example.premium.monthly",
			Kind: transfer.KindAutoRenewable, State: transfer.StateActive, ExpiresAt: now.AddDate(0, 1, 0),
		}),
	}
	open := func(id string) transfer.Synchronization {
		s := transfer.Synchronization{
			PublisherID: f.publisher, ID: id, RequestHash: "bench", TransactionID: f.tx, OriginalTransactionID: f.otx,
			Target: f.target, IPAddress: "203.0.113.7", Status: transfer.StatusProcessing, Counted: true, CreatedAt: now, UpdatedAt: now,
		}
		steps = append(steps, stores.Accept.Open(ctx, s, now.Add(transfer.DefaultLockLease), transfer.Limits{}))
		return s
	}
	// Status reads a finalized record, the largest one.
	f.statusID = "S4BHDJ6KT5FFYT6WJJNPNUBQM4"
	open(f.statusID)
	// The processor's job holds the locks: opened last.
	f.job = transfer.JobOf(open("PROCESSORJOB6KT5FFYT6WJJNPN"))
	for _, err := range steps {
		if err != nil {
			tb.Fatal(err)
		}
	}
	rec := f.db.Find("SYNC", func(pk string) bool { return strings.HasSuffix(pk, "#SYNC#"+f.statusID) })
	if rec == nil {
		tb.Fatal("fixture: status record not stored")
	}
	rec["status"] = &types.AttributeValueMemberS{Value: string(transfer.StatusFinalized)}
	rec["result"] = &types.AttributeValueMemberS{Value: string(transfer.ResultTransferred)}
	rec["offerId"] = &types.AttributeValueMemberS{Value: "S123456789_US"}
	rec["previousCustomerId"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(int64(f.owner), 10)}
	rec["finalizedAt"] = &types.AttributeValueMemberS{Value: now.Format(time.RFC3339Nano)}
	delete(rec, "openShard")
	delete(rec, "openSince")
	f.db.Freeze()
	f.body = `{"cleengCustomerId": ` + strconv.FormatInt(int64(f.target), 10) + `, "transactionId": "` + f.tx + `", "ipAddress": "203.0.113.7"}`
	return f
}

func (f *fixture) config(cacheTTL time.Duration) inprocess.Config {
	return inprocess.Config{
		TableName:        table,
		TransferQueueURL: queueURL,
		JWT:              auth.JWTConfig{HS256Secret: f.jwtSecret},
		AuthCacheTTL:     cacheTTL,
		LockLease:        transfer.DefaultLockLease,
		MaxReceives:      5,
		Retention:        dynamo.DefaultRetention,
	}
}

// Levels of the stack a benchmark runs on.

// portsHandlers serve the HTTP and domain layers over in-memory ports.
func (f *fixture) portsHandlers() (transferH, statusH http.Handler) {
	now := time.Now().UTC()
	dir := bench.MemDirectory{Answer: transfer.Lookup{
		Publisher:             &transfer.Publisher{ID: f.publisher, StoreKit2Active: true},
		TokenValid:            true,
		OriginalTransactionID: f.otx,
	}}
	store := bench.MemStore{Sync: transfer.Synchronization{
		PublisherID: f.publisher, Target: f.target, Status: transfer.StatusFinalized, Result: transfer.ResultTransferred,
		OfferID: "S123456789_US", CreatedAt: now, UpdatedAt: now, FinalizedAt: now,
	}}
	v := auth.NewVerifier(auth.JWTConfig{HS256Secret: f.jwtSecret})
	return httpapi.NewTransferHandler(transfer.NewAcceptor(dir, store, bench.MemQueue{}), v),
		httpapi.NewStatusHandler(transfer.NewStatusReader(dir, store), v)
}

// adapterHandlers serve the real DynamoDB and SQS adapters (attributevalue,
// expression builders, the lookup cache) over fakes of the SDK clients'
// interfaces: what inprocess.New wires, minus the SDK.
func (f *fixture) adapterHandlers(cacheTTL time.Duration) (transferH, statusH http.Handler, proc *transfer.Processor) {
	cfg := f.config(cacheTTL)
	stores := inprocess.NewStores(dynamo.NewTable(f.db, table, dynamo.WithRetention(cfg.Retention)))
	dir := directorycache.New(stores.Directory, cfg.AuthCacheTTL, directorycache.DefaultChainTTL)
	v := auth.NewVerifier(cfg.JWT)
	acceptor := transfer.NewAcceptor(dir, stores.Accept, queue.NewSender(&bench.FakeSQS{}, queueURL), transfer.WithLockLease(cfg.LockLease))
	return httpapi.NewTransferHandler(acceptor, v), httpapi.NewStatusHandler(transfer.NewStatusReader(dir, stores.Syncs), v),
		transfer.NewProcessor(stores.Work, transfer.WithMaxReceives(cfg.MaxReceives))
}

// sdkService is the service exactly as a Lambda main wires it, its SDK
// clients answered in process by a bench.Wire (no network, no server).
func (f *fixture) sdkService(cacheTTL time.Duration) (*inprocess.Service, inprocess.Clients) {
	return sdkServiceOn(f.db, f.config(cacheTTL))
}

// sdkServiceOn is the service as a main wires it with cfg, its SDK clients
// answered from db.
func sdkServiceOn(db *bench.FakeDynamo, cfg inprocess.Config) (*inprocess.Service, inprocess.Clients) {
	awsCfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIDBENCH", "secret", "")),
		HTTPClient:  bench.NewWire(db),
	}
	clients := inprocess.NewClients(awsCfg, inprocess.Endpoints{})
	// The mains write their EMF metric lines (to stdout, here to nowhere):
	// their cost is the handlers' too.
	cfg.Metrics = io.Discard
	return inprocess.New(cfg, clients), clients
}

type lambdaHTTP func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// lambdaHandlers are the transfer and status Lambdas' handlers.
func (f *fixture) lambdaHandlers(cacheTTL time.Duration) (transferL, statusL lambdaHTTP) {
	svc, clients := f.sdkService(cacheTTL)
	return httpapi.LambdaHandler(svc.TransferHandler(svc.Queue(clients)), ""),
		httpapi.LambdaHandler(svc.StatusHandler(), "")
}

func (f *fixture) transferRequest() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/purchases/transfers", bytes.NewBufferString(f.body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Publisher-Token", f.token)
	return r
}

func (f *fixture) statusRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/purchases/synchronizations/"+f.statusID, nil)
	r.Header.Set("X-Publisher-Token", f.token)
	return r
}

func (f *fixture) transferEvent() events.APIGatewayV2HTTPRequest {
	return bench.GatewayEvent(http.MethodPost, "/purchases/transfers", f.body, map[string]string{
		"content-type":      "application/json",
		"content-length":    strconv.Itoa(len(f.body)),
		"x-publisher-token": f.token,
	})
}

func (f *fixture) statusEvent() events.APIGatewayV2HTTPRequest {
	return bench.GatewayEvent(http.MethodGet, "/purchases/synchronizations/"+f.statusID, "", map[string]string{
		"x-publisher-token": f.token,
	})
}

// sqsEvent is one delivery of a job, as the event source mapping sends it:
// the body as the transfer function's queue.Sender writes it (with the
// prefetch hint JobOf puts in).
func sqsEvent(tb testing.TB, job transfer.Job) events.SQSEvent {
	body, err := json.Marshal(job)
	if err != nil {
		tb.Fatal(err)
	}
	return events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: "bench-message", ReceiptHandle: "bench-receipt", Body: string(body), EventSource: "aws:sqs",
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}, AWSRegion: region,
	}}}
}

type sdkInputs struct {
	getItem  *dynamodb.GetItemInput
	transact *dynamodb.TransactWriteItemsInput
	send     *sqs.SendMessageInput
}

// sdkInputs are raw SDK inputs shaped like the service's: the status read,
// the transfer's transaction (the latency floor's) and its message.
func (f *fixture) sdkInputs() sdkInputs {
	pk := "PUB#" + strconv.FormatInt(int64(f.publisher), 10)
	customer := pk + "#CUSTOMER#" + strconv.FormatInt(int64(f.target), 10)
	return sdkInputs{
		getItem: &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true), Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk + "#SYNC#" + f.statusID},
			"sk": &types.AttributeValueMemberS{Value: "SYNC"},
		}},
		transact: bench.FloorTransaction(table, "FLOORID6KT5FFYT6WJJNPNUBQM4", customer, "CUSTOMER", time.Now()),
		send:     bench.FloorMessage(queueURL, "FLOORID6KT5FFYT6WJJNPNUBQM4"),
	}
}
