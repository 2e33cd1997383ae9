//go:build linux

package lambdarie_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/acme/purchase-transfer/dev/lambdarie"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

var (
	stack      *localaws.Stack
	rieBinary  string
	bootstraps string // folder of <function>/bootstrap, built for this machine
)

// functions are the template's functions under test and their folders.
var functions = map[string]string{
	"TransferFunction":           "transfer",
	"StatusFunction":             "status",
	"ProcessorFunction":          "processor",
	"AppleNotificationsFunction": "applenotifications",
}

// alsoBuilt are bootstraps started by their own tests, not by start.
var alsoBuilt = []string{"applebackfill"}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // every test needs the stack and skips
	}
	root, err := lambdarie.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if rieBinary, err = lambdarie.RIEBinary(root); err != nil {
		// `go test ./...` by hand, without `make rie`: say so and pass. CI
		// runs make test, which installs it, and must not pass without it.
		if errors.Is(err, lambdarie.ErrNoRIE) && os.Getenv("CI") == "" {
			fmt.Fprintln(os.Stderr, "lambdarie: skipped:", err)
			return 0
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "bootstraps-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bootstraps = dir

	// Build while the emulators start: both take seconds.
	opts := testkit.StackOptions{Prepare: func(ctx context.Context) error {
		return lambdarie.BuildBootstraps(ctx, root, dir, append(slices.Collect(maps.Values(functions)), alsoBuilt...)...)
	}}
	return testkit.RunWithStack(m, opts, func(s *localaws.Stack) { stack = s })
}

// deployment is one copy of the stack's data (table and queues of the
// template) with a seeded publisher, on which functions run.
type deployment struct {
	tb        testing.TB
	res       localaws.Resources
	store     *dynamo.OperatorStore
	queueARN  string
	basePath  string
	jwtSecret []byte
	publisher transfer.PublisherID
	token     string
	customers []transfer.CustomerID
}

func newDeployment(tb testing.TB, basePath string) *deployment {
	tb.Helper()
	testkit.SkipWithoutStack(tb)
	ctx := context.Background()
	res, err := stack.IsolatedResources(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	arn, err := stack.Clients.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: ptr(res.TransferQueueURL()), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		tb.Fatal(err)
	}
	d := &deployment{
		tb:        tb,
		res:       res,
		store:     dynamo.NewOperatorStore(dynamo.NewTable(stack.Clients.DynamoDB, res.Table)),
		queueARN:  arn.Attributes[string(sqstypes.QueueAttributeNameQueueArn)],
		basePath:  basePath,
		jwtSecret: []byte(rand.Text() + rand.Text()), // 52 bytes: the functions refuse a key under 32
		publisher: transfer.PublisherID(randomID()),
	}
	app := &transfer.AppleApp{BundleID: "com.example.rie", AppAppleID: 1234567890, Environments: []string{transfer.EnvironmentProduction, transfer.EnvironmentSandbox}}
	if err := d.store.PutPublisher(ctx, transfer.Publisher{ID: d.publisher, Name: "rie", StoreKit2Active: true, Apple: app}); err != nil {
		tb.Fatal(err)
	}
	token, hash := auth.NewPublisherToken(d.publisher)
	if err := d.store.PutToken(ctx, d.publisher, hash, "rie"); err != nil {
		tb.Fatal(err)
	}
	d.token = token
	d.customers = []transfer.CustomerID{transfer.CustomerID(randomID()), transfer.CustomerID(randomID())}
	if err := d.store.PutCustomers(ctx, d.publisher, d.customers...); err != nil {
		tb.Fatal(err)
	}
	return d
}

// purchase seeds an active purchase of the first customer and returns its transactionId.
func (d *deployment) purchase() string {
	d.tb.Helper()
	tx := "tx-" + strconv.FormatInt(randomID(), 10)
	err := d.store.PutPurchase(context.Background(), transfer.Purchase{
		PublisherID: d.publisher, OriginalTransactionID: "o" + tx, TransactionIDs: []string{tx},
		Owner: d.customers[0], OfferID: "S123456789_US", ProductID: "com.example.monthly",
		Kind: transfer.KindAutoRenewable, State: transfer.StateActive, ExpiresAt: time.Now().Add(30 * 24 * time.Hour),
	})
	if err != nil {
		d.tb.Fatal(err)
	}
	return tx
}

func (d *deployment) jwt(c transfer.CustomerID) string {
	d.tb.Helper()
	tok, err := auth.MintHS256(d.jwtSecret, d.publisher, c, time.Hour)
	if err != nil {
		d.tb.Fatal(err)
	}
	return tok
}

// functionSet is the three functions of one deployment, each under its own RIE.
type functionSet struct {
	transfer, status, processor, apple *lambdarie.Function
	// firstResponse is each function's init-to-first-response, by name.
	mu            sync.Mutex
	firstResponse map[string]time.Duration
}

// start runs the three bootstraps with the environment the template declares
// for each, pointed at this deployment's resources on the emulators.
func (d *deployment) start() *functionSet {
	d.tb.Helper()
	runtimeEnv := map[string]string{}
	declaredByAll := map[string]string{"TABLE_NAME": d.res.Table}
	var secretsEndpoint string
	for k, v := range stack.Env() {
		switch {
		case k == "AWS_ENDPOINT_URL_SECRETS_MANAGER":
			// Declared only by the functions that read secrets.
			secretsEndpoint = v
		case strings.HasPrefix(k, "AWS_ENDPOINT_URL_"):
			declaredByAll[k] = v
		default:
			runtimeEnv[k] = v // region and dummy credentials, as Lambda provides them
		}
	}
	// The HS256 key, in Secrets Manager (moto), where the functions read it:
	// the environment names the secret, never holds the key.
	secretID := "rie/jwt-" + strconv.FormatInt(randomID(), 10)
	if err := stack.PutSecret(context.Background(), secretID, string(d.jwtSecret)); err != nil {
		d.tb.Fatal(err)
	}
	// CONFIG_ENV dev: the template's default, prod, would refuse HS256 JWTs
	// without an issuer and an audience, which these tokens do not carry.
	api := map[string]string{"BASE_PATH": d.basePath, "JWT_HS256_SECRET_ID": secretID, "CONFIG_ENV": "dev",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": secretsEndpoint}
	// The processor's sealing key (its live check opens App Store Connect
	// keys with it), in Secrets Manager too.
	_, sealingKey := webhook.NewSealingKey()
	sealingID := "rie/sealing-" + strconv.FormatInt(randomID(), 10)
	if err := stack.PutSecret(context.Background(), sealingID, sealingKey); err != nil {
		d.tb.Fatal(err)
	}
	processor := map[string]string{"WEBHOOK_SEALING_KEY_SECRET_ID": sealingID, "AWS_ENDPOINT_URL_SECRETS_MANAGER": secretsEndpoint}
	overrides := map[string]map[string]string{
		"TransferFunction":           merge(declaredByAll, api, map[string]string{"TRANSFER_QUEUE_URL": d.res.TransferQueueURL()}),
		"StatusFunction":             merge(declaredByAll, api),
		"ProcessorFunction":          merge(declaredByAll, processor),
		"AppleNotificationsFunction": merge(declaredByAll, map[string]string{"BASE_PATH": d.basePath}),
	}
	set := &functionSet{firstResponse: map[string]time.Duration{}}
	started := map[string]*lambdarie.Function{}
	for id, dir := range functions {
		fn, err := stack.Template.Function(id)
		if err != nil {
			d.tb.Fatal(err)
		}
		env := merge(runtimeEnv, fn.Environment,
			// As the template's LoggingConfig makes Lambda set them.
			map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"})
		for name, v := range overrides[id] {
			if _, declared := fn.Environment[name]; !declared {
				d.tb.Fatalf("%s: template.yaml does not declare %s, so it would be unset in AWS", id, name)
			}
			env[name] = v
		}
		f, err := lambdarie.Start(context.Background(), lambdarie.Config{
			RIE:       rieBinary,
			Bootstrap: filepath.Join(bootstraps, dir, "bootstrap"),
			Name:      id,
			Timeout:   time.Duration(fn.TimeoutSeconds) * time.Second,
			Env:       env,
		})
		if err != nil {
			d.tb.Fatal(err)
		}
		started[id] = f
		d.tb.Cleanup(func() {
			f.Stop()
			if d.tb.Failed() {
				d.tb.Logf("--- %s output ---\n%s", id, f.Output())
			}
		})
	}
	set.transfer, set.status, set.processor = started["TransferFunction"], started["StatusFunction"], started["ProcessorFunction"]
	set.apple = started["AppleNotificationsFunction"]
	return set
}

// invoke sends an event, measuring the first answer of each function: RIE
// starts the bootstrap on the first invoke, as Lambda does on a cold start.
func (s *functionSet) invoke(tb testing.TB, f *lambdarie.Function, event any) []byte {
	tb.Helper()
	payload, err := json.Marshal(event)
	if err != nil {
		tb.Fatal(err)
	}
	s.mu.Lock()
	_, warm := s.firstResponse[f.Name]
	s.mu.Unlock()
	began := time.Now()
	out, err := f.Invoke(context.Background(), payload)
	if err != nil {
		tb.Fatal(err)
	}
	if !warm {
		s.mu.Lock()
		s.firstResponse[f.Name] = time.Since(began)
		s.mu.Unlock()
	}
	return out
}

func (s *functionSet) logFirstResponses(tb testing.TB) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := slices.Sorted(maps.Keys(s.firstResponse))
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.1f ms", n, float64(s.firstResponse[n].Microseconds())/1000))
	}
	tb.Logf("init to first response under RIE: %s", strings.Join(parts, ", "))
}

// http sends r through API Gateway's event to an HTTP function and decodes
// its answer, checking it is a well-formed payload 2.0 response.
func (s *functionSet) http(tb testing.TB, f *lambdarie.Function, r lambdarie.HTTPRequest) httpAnswer {
	tb.Helper()
	raw := s.invoke(tb, f, lambdarie.APIGatewayEvent(r, time.Now()))
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(raw, &resp); err != nil || resp.StatusCode == 0 {
		tb.Fatalf("%s answered no API Gateway v2 response: %s (%v)", f.Name, raw, err)
	}
	a := httpAnswer{APIGatewayV2HTTPResponse: resp}
	if resp.IsBase64Encoded {
		tb.Fatalf("%s answered a base64 body, API Gateway would decode it for the client: %s", f.Name, raw)
	}
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &a.body); err != nil {
			tb.Fatalf("%s answered a body that is not JSON: %q", f.Name, resp.Body)
		}
	}
	return a
}

type httpAnswer struct {
	events.APIGatewayV2HTTPResponse
	body map[string]any
}

func (a httpAnswer) str(field string) string { s, _ := a.body[field].(string); return s }

// header reads a response header whatever its case: API Gateway passes them on as set.
func (a httpAnswer) header(name string) string {
	for k, v := range a.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// receive waits for the transfer queue's messages, with every attribute
// Lambda's event source mapping asks for.
func (d *deployment) receive(want int) []sqstypes.Message {
	d.tb.Helper()
	var got []sqstypes.Message
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < want {
		if time.Now().After(deadline) {
			d.tb.Fatalf("%d of %d messages on the transfer queue in time", len(got), want)
		}
		out, err := stack.Clients.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl:                    ptr(d.res.TransferQueueURL()),
			MaxNumberOfMessages:         10,
			WaitTimeSeconds:             1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			d.tb.Fatal(err)
		}
		got = append(got, out.Messages...)
	}
	return got
}

// processBatch hands messages to the processor as Lambda's SQS event source
// does, deletes the ones it did not report as failed, and returns the raw
// answer.
func (d *deployment) processBatch(fs *functionSet, msgs []sqstypes.Message, extra ...events.SQSMessage) []byte {
	d.tb.Helper()
	event := lambdarie.SQSEvent(d.queueARN, msgs...)
	event.Records = append(event.Records, extra...)
	raw := fs.invoke(d.tb, fs.processor, event)
	var resp events.SQSEventResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		d.tb.Fatalf("processor answered %s: %v", raw, err)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for _, m := range msgs {
		if failed[*m.MessageId] {
			continue
		}
		if _, err := stack.Clients.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{
			QueueUrl: ptr(d.res.TransferQueueURL()), ReceiptHandle: m.ReceiptHandle}); err != nil {
			d.tb.Fatal(err)
		}
	}
	return raw
}

func (d *deployment) transferRequest(routePrefix string, headers map[string]string, target transfer.CustomerID, tx string) lambdarie.HTTPRequest {
	return lambdarie.HTTPRequest{
		Method:  http.MethodPost,
		Path:    d.basePath + "/purchases/transfers",
		Route:   routePrefix + "/purchases/transfers",
		Headers: headers,
		Body:    fmt.Sprintf(`{"cleengCustomerId": %d, "transactionId": %q, "ipAddress": "203.0.113.7"}`, target, tx),
	}
}

func (d *deployment) statusRequest(routePrefix string, headers map[string]string, id string) lambdarie.HTTPRequest {
	return lambdarie.HTTPRequest{
		Method:         http.MethodGet,
		Path:           d.basePath + "/purchases/synchronizations/" + id,
		Route:          routePrefix + "/purchases/synchronizations/{synchronizationId+}",
		PathParameters: map[string]string{"synchronizationId": id},
		Headers:        headers,
	}
}

// A transfer accepted by the transfer bootstrap, processed by the processor
// bootstrap from the message it enqueued, and polled from the status
// bootstrap: the three real binaries, as API Gateway and SQS invoke them.
func TestTransferCompletesThroughTheBootstraps(t *testing.T) {
	cases := []struct {
		name string
		// basePath is BASE_PATH: what clients put before the routes.
		basePath string
		// routePrefix is what API Gateway's routes carry of it: all of it on
		// the $default stage (parameter BasePath), none behind a custom
		// domain whose API mapping holds the base path (ApiMappingBasePath).
		routePrefix string
		// transferAs and statusAs: "token" for X-Publisher-Token, "jwt" for
		// the target customer's Bearer token.
		transferAs, statusAs string
		// base64 sends the transfer body base64-encoded and without a
		// Content-Type, as API Gateway passes a body it does not take for text.
		base64 bool
	}{
		{name: "no base path", transferAs: "token", statusAs: "token"},
		{name: "base path on the default stage", basePath: "/storekit2", routePrefix: "/storekit2", transferAs: "jwt", statusAs: "token"},
		{name: "base path of a custom domain mapping", basePath: "/storekit2", transferAs: "token", statusAs: "jwt", base64: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment(t, tc.basePath)
			fs := d.start()
			tx := d.purchase()
			target := d.customers[1]
			creds := func(as string) map[string]string {
				if as == "jwt" {
					return map[string]string{"Authorization": "Bearer " + d.jwt(target)}
				}
				return map[string]string{"X-Publisher-Token": d.token}
			}
			correlationID := "rie-" + strings.ToLower(rand.Text()[:12])

			headers := merge(creds(tc.transferAs), map[string]string{"Correlation-Id": correlationID})
			if !tc.base64 {
				headers["Content-Type"] = "application/json"
			}
			req := d.transferRequest(tc.routePrefix, headers, target, tx)
			req.Base64 = tc.base64
			accepted := fs.http(t, fs.transfer, req)
			if accepted.StatusCode != http.StatusAccepted || accepted.str("synchronizationId") != correlationID {
				t.Fatalf("transfer: %d %v, want 202 with synchronizationId %s", accepted.StatusCode, accepted.body, correlationID)
			}
			if got, want := accepted.header("Location"), tc.basePath+"/purchases/synchronizations/"+correlationID; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			if ct := accepted.header("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}

			pending := fs.http(t, fs.status, d.statusRequest(tc.routePrefix, creds(tc.statusAs), correlationID))
			if pending.StatusCode != http.StatusOK || pending.str("status") != string(transfer.StatusProcessing) {
				t.Fatalf("status before processing: %d %v", pending.StatusCode, pending.body)
			}

			msgs := d.receive(1)
			if n := msgs[0].Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)]; n != "1" {
				t.Errorf("ApproximateReceiveCount = %q, want 1", n)
			}
			raw := d.processBatch(fs, msgs)
			if failures := batchItemFailures(t, raw); len(failures) != 0 {
				t.Fatalf("processor reported failures: %s", raw)
			}

			// A query string the API ignores, as a cache-busting client sends.
			poll := d.statusRequest(tc.routePrefix, creds(tc.statusAs), correlationID)
			poll.RawQuery = "t=" + strconv.FormatInt(time.Now().UnixMilli(), 10)
			done := fs.http(t, fs.status, poll)
			if done.StatusCode != http.StatusOK || done.str("status") != string(transfer.StatusFinalized) ||
				done.str("result") != string(transfer.ResultTransferred) || done.body["accessGranted"] != true ||
				done.str("offerId") != "S123456789_US" || done.str("correlationId") != correlationID {
				t.Fatalf("status after processing: %d %v", done.StatusCode, done.body)
			}
			if cc := done.header("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if owner := d.owner(tx); owner != target {
				t.Errorf("purchase owner = %d, want %d", owner, target)
			}
			fs.logFirstResponses(t)
			// The template's LoggingConfig makes each function log JSON, with
			// the Lambda request id on every line.
			if !jsonLogLine.MatchString(fs.processor.Output()) {
				t.Errorf("the processor logged no JSON line with a requestId:\n%s", fs.processor.Output())
			}
		})
	}
}

var jsonLogLine = regexp.MustCompile(`(?m)^\{.*"requestId":"[^"]+".*\}$`)

func (d *deployment) owner(tx string) transfer.CustomerID {
	d.tb.Helper()
	p, err := d.store.Purchase(context.Background(), d.publisher, "o"+tx)
	if err != nil || p == nil {
		d.tb.Fatalf("purchase o%s: %v %v", tx, p, err)
	}
	return p.Owner
}

// batchItemFailures decodes the processor's answer strictly: the JSON names
// Lambda reads, and nothing it would not understand.
func batchItemFailures(t *testing.T, raw []byte) []string {
	t.Helper()
	var resp map[string][]map[string]string
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("processor answer %s is not {\"batchItemFailures\": [...]}: %v", raw, err)
	}
	for k := range resp {
		if k != "batchItemFailures" {
			t.Fatalf("processor answer has %q: %s", k, raw)
		}
	}
	var ids []string
	for _, f := range resp["batchItemFailures"] {
		if len(f) != 1 || f["itemIdentifier"] == "" {
			t.Fatalf("batch item failure %v is not {\"itemIdentifier\": messageId}", f)
		}
		ids = append(ids, f["itemIdentifier"])
	}
	return ids
}

// Lambda deletes the messages of a batch except those the function reports
// by messageId, so the shape of that report decides what is retried.
func TestProcessorReportsBatchItemFailures(t *testing.T) {
	d := newDeployment(t, "")
	fs := d.start()
	tx := d.purchase()
	accepted := fs.http(t, fs.transfer, d.transferRequest("",
		map[string]string{"X-Publisher-Token": d.token, "Content-Type": "application/json"}, d.customers[1], tx))
	if accepted.StatusCode != http.StatusAccepted {
		t.Fatalf("transfer: %d %v", accepted.StatusCode, accepted.body)
	}
	malformed := events.SQSMessage{
		MessageId: "0e4a5a8c-7d3b-4a53-9d54-8d1f3f0f6b2a", ReceiptHandle: "AQEB-not-a-job", Body: "not a transfer job",
		Attributes:  map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10)},
		EventSource: "aws:sqs", EventSourceARN: d.queueARN, AWSRegion: "us-east-1",
	}
	raw := d.processBatch(fs, d.receive(1), malformed)
	if got := batchItemFailures(t, raw); !slices.Equal(got, []string{malformed.MessageId}) {
		t.Errorf("batchItemFailures = %v, want only the malformed message %s (answer %s)", got, malformed.MessageId, raw)
	}
	done := fs.http(t, fs.status, d.statusRequest("", map[string]string{"X-Publisher-Token": d.token}, accepted.str("synchronizationId")))
	if done.str("status") != string(transfer.StatusFinalized) {
		t.Errorf("the good job of the batch was not applied: %v", done.body)
	}
}

// Refusals keep the documented status, code and JSON body once they pass
// through the Lambda adapter and API Gateway's response format.
func TestRefusalsUnderLambda(t *testing.T) {
	d := newDeployment(t, "/storekit2")
	fs := d.start()
	noCredentials := fs.http(t, fs.transfer, d.transferRequest("/storekit2",
		map[string]string{"Content-Type": "application/json"}, d.customers[1], "tx-1"))
	unknown := fs.http(t, fs.status, d.statusRequest("/storekit2", map[string]string{"X-Publisher-Token": d.token}, "no-such-id"))
	otherCustomer := fs.http(t, fs.transfer, d.transferRequest("/storekit2", map[string]string{
		"Authorization": "Bearer " + d.jwt(d.customers[0]), "Content-Type": "application/json"}, d.customers[1], "tx-1"))
	for _, c := range []struct {
		name   string
		got    httpAnswer
		status int
		code   string
	}{
		{"transfer without credentials", noCredentials, http.StatusBadRequest, "REQ0004"},
		{"status of an unknown id", unknown, http.StatusNotFound, "REQ0100"},
		{"transfer to another customer than the JWT's", otherCustomer, http.StatusForbidden, "AUTH0003"},
	} {
		if c.got.StatusCode != c.status || c.got.str("code") != c.code || c.got.str("requestId") == "" {
			t.Errorf("%s: %d %v, want %d %s with a requestId", c.name, c.got.StatusCode, c.got.body, c.status, c.code)
		}
		if ct := c.got.header("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
	}
}

// The Apple notifications bootstrap answers through API Gateway's format,
// and trusts Apple's root alone: a notification correct in every way but
// signed under a local test root is refused, and nothing is recorded.
func TestAppleNotificationsUnderLambda(t *testing.T) {
	d := newDeployment(t, "/storekit2")
	fs := d.start()
	root, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	signed, err := localroot.SignNotification(root, apple.NotificationPayload{
		NotificationType: apple.TypeDidRenew, NotificationUUID: "rie-1", SignedDate: now.UnixMilli(),
		Data: &apple.NotificationData{AppAppleID: 1234567890, BundleID: "com.example.rie", Environment: apple.EnvironmentSandbox},
	}, &apple.TransactionInfo{TransactionID: "t-2", OriginalTransactionID: "t-1", BundleID: "com.example.rie", ProductID: "p",
		SignedDate: now.UnixMilli(), Environment: apple.EnvironmentSandbox}, nil)
	if err != nil {
		t.Fatal(err)
	}
	request := func(body string) lambdarie.HTTPRequest {
		path := fmt.Sprintf("/apple/notifications/%d", d.publisher)
		return lambdarie.HTTPRequest{Method: http.MethodPost, Path: d.basePath + path, Route: "/storekit2/apple/notifications/{publisherId}",
			PathParameters: map[string]string{"publisherId": fmt.Sprint(d.publisher)}, Body: body,
			Headers: map[string]string{"Content-Type": "application/json"}}
	}
	body, _ := json.Marshal(localroot.SignedPayload{SignedPayload: signed})
	for _, c := range []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"not a JSON object", `[]`, http.StatusBadRequest, "APL0001"},
		{"signed under a root that is not Apple's", string(body), http.StatusBadRequest, "APL0002"},
	} {
		got := fs.http(t, fs.apple, request(c.body))
		if got.StatusCode != c.status || got.str("code") != c.code || got.str("requestId") == "" {
			t.Errorf("%s: %d %v, want %d %s", c.name, got.StatusCode, got.body, c.status, c.code)
		}
	}
	out, err := stack.Clients.DynamoDB.Scan(context.Background(), &dynamodb.ScanInput{TableName: &d.res.Table})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range out.Items {
		if sk, ok := item["sk"].(*dynamotypes.AttributeValueMemberS); ok && sk.Value == "NOTIFICATION" {
			t.Errorf("a refused notification was recorded: %v", item)
		}
	}
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func randomID() int64 {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<40))
	if err != nil {
		panic(err)
	}
	return n.Int64() + 1
}

func ptr(s string) *string { return &s }

// The setup of `sam local start-api` (docs/deploy.md): the local runner,
// given emulators it did not start, creates the template's table and queues
// in them under their logical ids, and does so again harmlessly.
func TestConnectCreatesTheTemplatesResources(t *testing.T) {
	testkit.SkipWithoutStack(t)
	ctx := context.Background()
	external, err := localaws.Connect(stack.Endpoints())
	if err != nil {
		t.Fatal(err)
	}
	first, err := external.DefaultResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := external.DefaultResources(ctx)
	if err != nil {
		t.Fatalf("second run against the same emulators: %v", err)
	}
	if first.Table != localaws.TableID || again.Table != first.Table {
		t.Errorf("tables %q then %q, want %q", first.Table, again.Table, localaws.TableID)
	}
	for _, q := range stack.Template.Queues {
		url := first.QueueURLs[q.LogicalID]
		if url == "" || again.QueueURLs[q.LogicalID] != url || !strings.HasSuffix(url, "/"+q.LogicalID) {
			t.Errorf("queue %s: %q then %q", q.LogicalID, url, again.QueueURLs[q.LogicalID])
		}
	}
	got, err := stack.Clients.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: ptr(first.TransferQueueURL()), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedrivePolicy}})
	if err != nil || !strings.Contains(got.Attributes[string(sqstypes.QueueAttributeNameRedrivePolicy)], localaws.TransferDLQID) {
		t.Errorf("transfer queue's redrive policy: %v %v", got, err)
	}
}
