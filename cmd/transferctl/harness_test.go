package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/acme/purchase-transfer/dev/emulator"
	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/runenv"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// The CLI is tested in-process (run) against DynamoDB Local and ElasticMQ,
// started once for the package; each test has its own table and queues, an
// API server on them, and a run.env describing them for --local.

var stack *localaws.Stack

func TestMain(m *testing.M) {
	flag.Parse()
	// The API and the processor log refusals and the failures some tests
	// cause on purpose; the tests assert on outcomes instead.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	// A benchmark measures DynamoDB Local as make run starts it.
	benchmarking := flag.Lookup("test.bench").Value.String() != ""
	opts := testkit.StackOptions{Emulator: emulator.Options{PeakThroughput: benchmarking}}
	os.Exit(testkit.RunWithStack(m, opts, func(s *localaws.Stack) { stack = s }))
}

// fixture is one isolated service and a run.env that points transferctl at it.
type fixture struct {
	t       testing.TB
	res     localaws.Resources
	svc     *inprocess.Service
	server  *httptest.Server
	envFile string
	secret  string
}

type fixtureOption func(*inprocess.Config, *[]localaws.ResourceOption)

// withFastRetries makes a failing job dead-letter after maxReceives
// deliveries one second apart.
func withFastRetries(maxReceives int) fixtureOption {
	return func(c *inprocess.Config, r *[]localaws.ResourceOption) {
		c.MaxReceives = maxReceives
		*r = append(*r, localaws.WithQueueOverride(localaws.TransferQueueID, 1, maxReceives))
	}
}

func newFixture(t testing.TB, opts ...fixtureOption) *fixture {
	t.Helper()
	testkit.SkipWithoutStack(t)
	// The HS256 key is in the local Secrets Manager, where the API and
	// transferctl token read it.
	secret, secretID := rand.Text()+rand.Text(), "transferctl-test/jwt-"+strings.ToLower(rand.Text()[:10])
	if err := stack.PutSecret(context.Background(), secretID, secret); err != nil {
		t.Fatal(err)
	}
	cfg := inprocess.Config{
		// No credential cache: a revoked or rotated-out token is refused by
		// the very next request.
		AuthCacheTTL: 0,
		LockLease:    transfer.DefaultLockLease,
		MaxReceives:  5,
		Retention:    dynamo.DefaultRetention,
		JWT:          auth.JWTConfig{HS256Keys: config.HS256Keys(context.Background(), stack.Clients.SecretsManager, secretID)},
	}
	var resOpts []localaws.ResourceOption
	for _, o := range opts {
		o(&cfg, &resOpts)
	}
	res, err := stack.IsolatedResources(context.Background(), resOpts...)
	if err != nil {
		t.Fatalf("resources: %v", err)
	}
	cfg.TableName = res.Table
	cfg.TransferQueueURL = res.TransferQueueURL()
	f := &fixture{t: t, res: res, svc: inprocess.New(cfg, stack.Clients), secret: secret}
	f.server = httptest.NewServer(f.svc.Handler(f.svc.Queue(stack.Clients)))
	t.Cleanup(f.server.Close)

	env := stack.Env()
	env[settingTable] = res.Table
	env[settingTransferQ] = res.TransferQueueURL()
	env[settingTransferDLQ] = res.TransferDLQURL()
	env[settingAPIURL] = f.server.URL
	env[settingJWTSecretID] = secretID
	f.envFile = filepath.Join(t.TempDir(), "run.env")
	if err := runenv.Write(f.envFile, env); err != nil {
		t.Fatal(err)
	}
	return f
}

// startProcessor runs h (the real processor when nil) on the transfer queue
// until stop is called or the test ends.
func (f *fixture) startProcessor(h queue.BatchHandler) (stop func()) {
	if h == nil {
		h = f.svc.ProcessorBatchHandler()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p := &queue.Poller{SQS: stack.Clients.SQS, QueueURL: f.res.TransferQueueURL(), Handler: h, Wait: time.Second}
	go func() { defer close(done); _ = p.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	f.t.Cleanup(stop)
	return stop
}

// result is one run of transferctl.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// ctl runs transferctl --local=<this fixture's run.env> args...
func (f *fixture) ctl(args ...string) result {
	f.t.Helper()
	return runCtl(append([]string{"--local=" + f.envFile}, args...)...)
}

func runCtl(args ...string) result {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// ok runs a command that must succeed.
func (f *fixture) ok(args ...string) result {
	f.t.Helper()
	r := f.ctl(args...)
	if r.code != exitOK {
		f.t.Fatalf("transferctl %s: %v", strings.Join(args, " "), r)
	}
	return r
}

// okJSON runs a command with --json that must succeed and decodes its output.
func (f *fixture) okJSON(out any, args ...string) {
	f.t.Helper()
	r := f.ok(append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
		f.t.Fatalf("transferctl %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

// createPublisher creates a publisher through the CLI and returns its id and token.
func (f *fixture) createPublisher(args ...string) (transfer.PublisherID, string) {
	f.t.Helper()
	var issued struct {
		PublisherID transfer.PublisherID `json:"publisherId"`
		Token       string               `json:"token"`
	}
	f.okJSON(&issued, append([]string{"publisher", "create", "--name", "Test Publisher"}, args...)...)
	if issued.PublisherID <= 0 || !strings.HasPrefix(issued.Token, fmt.Sprintf("pt_%d_", issued.PublisherID)) {
		f.t.Fatalf("publisher create printed %+v", issued)
	}
	return issued.PublisherID, issued.Token
}

func scanInput(table string) *dynamodb.ScanInput { return &dynamodb.ScanInput{TableName: &table} }

// writeFile writes a file in the test's temp folder.
func (f *fixture) writeFile(name, content string) string {
	f.t.Helper()
	path := filepath.Join(f.t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return path
}

// apiResponse is a decoded HTTP answer of the API.
type apiResponse struct {
	status int
	body   map[string]any
	raw    string
}

func (r apiResponse) str(field string) string { s, _ := r.body[field].(string); return s }

func (f *fixture) api(method, path string, headers map[string]string, body string) apiResponse {
	f.t.Helper()
	r := testkit.Do(f.t, f.server.URL, method, path, headers, body)
	return apiResponse{status: r.Status, body: r.Body, raw: r.Raw}
}

func publisherToken(token string) map[string]string {
	return map[string]string{"X-Publisher-Token": token, "Content-Type": "application/json"}
}

// transfer posts a transfer and returns its synchronizationId.
func (f *fixture) transfer(token string, customer int64, tx string) string {
	f.t.Helper()
	r := f.api(http.MethodPost, "/purchases/transfers", publisherToken(token),
		fmt.Sprintf(`{"cleengCustomerId": %d, "transactionId": %q}`, customer, tx))
	if r.status != http.StatusAccepted {
		f.t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	return r.str("synchronizationId")
}

// waitFinalized polls the status endpoint until the synchronization is
// finalized and returns its result.
func (f *fixture) waitFinalized(token, id string) string {
	f.t.Helper()
	r := testkit.WaitFinalized(f.t, f.server.URL, id, publisherToken(token), 30*time.Second)
	result, _ := r.Body["result"].(string)
	return result
}
