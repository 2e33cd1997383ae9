// Package integration_test proves the guarantees of docs/design.md (G1–G6) against the real
// emulators: DynamoDB Local and ElasticMQ, started once for the package.
package integration_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/secrets"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

var stack *localaws.Stack

// appleRoot signs like Apple for every env: the service trusts it instead of
// Apple Root CA - G3 (Config.Apple.Roots), as `make run` does.
var appleRoot = func() *localroot.Authority {
	a, err := localroot.New()
	if err != nil {
		panic(err)
	}
	return a
}()

func TestMain(m *testing.M) {
	// Refusals are logged at info level; keep test output to what matters.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	os.Exit(testkit.RunWithStack(m, testkit.StackOptions{}, func(s *localaws.Stack) { stack = s }))
}

// env is one isolated service: its own table and queues, its own HTTP
// server on 127.0.0.1, and a processor that runs only when started.
type env struct {
	t         *testing.T
	res       localaws.Resources
	svc       *inprocess.Service
	jwtSecret []byte
	// jwtSecretID names jwtSecret in the local Secrets Manager (moto), where
	// the API reads it, as the Lambdas do.
	jwtSecretID string
	queue       transfer.Queue
	server      *httptest.Server
	db          *dynamodb.Client
	sqs         *sqs.Client
}

type envOption func(*envConfig)

type envConfig struct {
	// keyOpts tune the HS256 keys' cache (secrets.WithMissEvery(0) lets a
	// test rotate twice without waiting); jwtSecretID, when set, names the
	// secret instead of one made for the env.
	keyOpts     []secrets.Option
	jwtSecretID string
	cfg         inprocess.Config
	wrapQueue   func(transfer.Queue) transfer.Queue
	resources   []localaws.ResourceOption
}

func withQueue(wrap func(transfer.Queue) transfer.Queue) envOption {
	return func(c *envConfig) { c.wrapQueue = wrap }
}

func withLockLease(d time.Duration) envOption {
	return func(c *envConfig) { c.cfg.LockLease = d }
}

// withFastRetries shortens the transfer queue's visibility timeout and
// receive count, so a failing job is redelivered and dead-lettered in seconds.
func withFastRetries(maxReceives int) envOption {
	return func(c *envConfig) {
		c.cfg.MaxReceives = maxReceives
		c.resources = append(c.resources, localaws.WithQueueOverride(localaws.TransferQueueID, 1, maxReceives))
	}
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	testkit.SkipWithoutStack(t)
	ctx := context.Background()
	jwtSecret, jwtSecretID := rand.Text()+rand.Text(), "integration/jwt-"+strconv.FormatInt(newID(), 10)
	if err := stack.PutSecret(ctx, jwtSecretID, jwtSecret); err != nil {
		t.Fatal(err)
	}
	// A request may wait for a fetch as long as it takes a loaded moto.
	c := envConfig{keyOpts: []secrets.Option{secrets.WithRequestWait(time.Minute)}, cfg: inprocess.Config{
		LockLease:   transfer.DefaultLockLease,
		MaxReceives: 5,
		Retention:   dynamo.DefaultRetention,
		SweepGrace:  transfer.DefaultSweepGrace,
		Apple:       inprocess.AppleConfig{Roots: appleRoot.Pool()},
	}}
	for _, o := range opts {
		o(&c)
	}
	if c.jwtSecretID != "" {
		jwtSecretID = c.jwtSecretID
	}
	c.cfg.JWT.HS256Keys = config.HS256Keys(ctx, stack.Clients.SecretsManager, jwtSecretID, c.keyOpts...)
	res, err := stack.IsolatedResources(ctx, c.resources...)
	if err != nil {
		t.Fatalf("resources: %v", err)
	}
	c.cfg.TableName = res.Table
	c.cfg.TransferQueueURL = res.TransferQueueURL()
	e := &env{t: t, res: res, jwtSecret: []byte(jwtSecret), jwtSecretID: jwtSecretID, db: stack.Clients.DynamoDB, sqs: stack.Clients.SQS}
	e.svc = inprocess.New(c.cfg, stack.Clients)
	e.queue = e.svc.Queue(stack.Clients)
	if c.wrapQueue != nil {
		e.queue = c.wrapQueue(e.queue)
	}
	e.server = httptest.NewServer(e.svc.Handler(e.queue))
	t.Cleanup(e.server.Close)
	return e
}

// startProcessor runs the processor from the transfer queue until the test ends.
func (e *env) startProcessor(opts ...transfer.Option) {
	e.runPoller(e.svc.ProcessorBatchHandler(opts...))
}

func (e *env) runPoller(h queue.BatchHandler) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p := &queue.Poller{SQS: e.sqs, QueueURL: e.res.TransferQueueURL(), Handler: h, Wait: time.Second}
	go func() { defer close(done); _ = p.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

// publisher is a seeded publisher with a live token.
type publisher struct {
	id    transfer.PublisherID
	token string
}

var idSeq = struct {
	sync.Mutex
	next int64
}{next: 1000}

// newID returns an id unique in this test run, random enough to never
// collide with another env's data even if tables were shared.
func newID() int64 {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000_000))
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.next++
	return n.Int64()*1000 + idSeq.next%1000 + 1
}

func (e *env) seedPublisher(active, migrating bool) publisher {
	e.t.Helper()
	ctx := context.Background()
	id := transfer.PublisherID(newID())
	if err := e.svc.Stores.Operator.PutPublisher(ctx, transfer.Publisher{ID: id, Name: "test", StoreKit2Active: active, MigrationInProgress: migrating}); err != nil {
		e.t.Fatal(err)
	}
	token, hash := auth.NewPublisherToken(id)
	if err := e.svc.Stores.Operator.PutToken(ctx, id, hash, "test"); err != nil {
		e.t.Fatal(err)
	}
	return publisher{id: id, token: token}
}

func (e *env) seedCustomers(p publisher, n int) []transfer.CustomerID {
	e.t.Helper()
	ids := make([]transfer.CustomerID, n)
	for i := range ids {
		ids[i] = transfer.CustomerID(newID())
	}
	if err := e.svc.Stores.Operator.PutCustomers(context.Background(), p.id, ids...); err != nil {
		e.t.Fatal(err)
	}
	return ids
}

// seedPurchase creates a purchase chain owned by owner, named by txs.
func (e *env) seedPurchase(p publisher, owner transfer.CustomerID, state transfer.PurchaseState, expires time.Time, txs ...string) transfer.Purchase {
	e.t.Helper()
	if len(txs) == 0 {
		txs = []string{"tx-" + strconv.FormatInt(newID(), 10)}
	}
	pur := transfer.Purchase{
		PublisherID:           p.id,
		OriginalTransactionID: "otx-" + strconv.FormatInt(newID(), 10),
		TransactionIDs:        txs,
		Owner:                 owner,
		OfferID:               "S123456789_US",
		ProductID:             "com.example.premium.monthly",
		Kind:                  transfer.KindAutoRenewable,
		State:                 state,
		ExpiresAt:             expires,
	}
	if err := e.svc.Stores.Operator.PutPurchase(context.Background(), pur); err != nil {
		e.t.Fatal(err)
	}
	return pur
}

// sealingKeys puts a new sealing key in the local Secrets Manager and
// returns the webhook function's view of it.
func (e *env) sealingKeys() webhook.SealingKeys {
	e.t.Helper()
	_, encoded := webhook.NewSealingKey()
	id := "integration/sealing-" + strconv.FormatInt(newID(), 10)
	if err := stack.PutSecret(context.Background(), id, encoded); err != nil {
		e.t.Fatal(err)
	}
	return config.SealingKeys(context.Background(), stack.Clients.SecretsManager, id, secrets.WithRequestWait(time.Minute))
}

func newTxID() string { return "tx-" + strconv.FormatInt(newID(), 10) }

func (e *env) jwt(p publisher, c transfer.CustomerID) string {
	e.t.Helper()
	tok, err := auth.MintHS256(e.jwtSecret, p.id, c, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r response) code() string { s, _ := r.body["code"].(string); return s }

func (r response) str(field string) string { s, _ := r.body[field].(string); return s }

func (e *env) do(method, path string, headers map[string]string, body string) response {
	e.t.Helper()
	r := testkit.Do(e.t, e.server.URL, method, path, headers, body)
	return response{status: r.Status, header: r.Header, body: r.Body, raw: r.Raw}
}

func tokenHeader(p publisher) map[string]string {
	return map[string]string{"X-Publisher-Token": p.token, "Content-Type": "application/json"}
}

func transferBody(c transfer.CustomerID, tx string) string {
	return fmt.Sprintf(`{"cleengCustomerId": %d, "transactionId": %q}`, c, tx)
}

func (e *env) transfer(headers map[string]string, body string) response {
	e.t.Helper()
	return e.do(http.MethodPost, "/purchases/transfers", headers, body)
}

func (e *env) status(headers map[string]string, id string) response {
	e.t.Helper()
	return e.do(http.MethodGet, "/purchases/synchronizations/"+id, headers, "")
}

// waitFinalized polls the status endpoint until the synchronization is
// finalized, failing the test at the deadline.
func (e *env) waitFinalized(headers map[string]string, id string) response {
	e.t.Helper()
	r := testkit.WaitFinalized(e.t, e.server.URL, id, headers, 20*time.Second)
	return response{status: r.Status, header: r.Header, body: r.Body, raw: r.Raw}
}

// items returns every item of the env's table, by the prefix of its sort key.
func (e *env) items() map[string][]map[string]any {
	e.t.Helper()
	out := map[string][]map[string]any{}
	p := dynamodb.NewScanPaginator(e.db, &dynamodb.ScanInput{TableName: &e.res.Table, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		for _, raw := range page.Items {
			var item map[string]any
			if err := attributevalue.UnmarshalMap(raw, &item); err != nil {
				e.t.Fatal(err)
			}
			sk, _ := item["sk"].(string)
			kind := sk
			if i := bytes.IndexByte([]byte(sk), '#'); i >= 0 {
				kind = sk[:i]
			}
			out[kind] = append(out[kind], item)
		}
	}
	return out
}

func (e *env) purchase(p publisher, otx string) *transfer.Purchase {
	e.t.Helper()
	got, err := e.svc.Stores.Operator.Purchase(context.Background(), p.id, otx)
	if err != nil || got == nil {
		e.t.Fatalf("purchase %s: %v %v", otx, got, err)
	}
	return got
}

func (e *env) history(p publisher, otx string) []dynamo.HistoryEntry {
	e.t.Helper()
	h, err := e.svc.Stores.Operator.History(context.Background(), p.id, otx)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func queueHandler(h queue.JobHandler) queue.BatchHandler { return queue.TransferBatchHandler(h) }

// queueDepth is the number of messages in a queue, visible or in flight.
func (e *env) queueDepth(url string) int {
	e.t.Helper()
	out, err := e.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n
}
