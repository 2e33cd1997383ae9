package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/runenv"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// withSealingKey puts a sealing key in the local Secrets Manager, where the
// webhook worker and transferctl read it, names it in run.env, and returns
// the secret's name.
func (f *fixture) withSealingKey() string {
	f.t.Helper()
	_, encoded := webhook.NewSealingKey()
	keyID := "transferctl-test/sealing-" + strings.ToLower(rand.Text()[:10])
	if err := stack.PutSecret(context.Background(), keyID, encoded); err != nil {
		f.t.Fatal(err)
	}
	f.setEnv(settingSealingKeyID, keyID)
	return keyID
}

// setEnv sets one setting of the fixture's run.env.
func (f *fixture) setEnv(name, value string) {
	f.t.Helper()
	env, err := runenv.Read(f.envFile)
	if err != nil {
		f.t.Fatal(err)
	}
	env[name] = value
	if err := runenv.Write(f.envFile, env); err != nil {
		f.t.Fatal(err)
	}
}

// withWebhooks runs the fixture's webhook path (processor announcement and
// one webhook worker) and adds its settings to run.env, as make run does.
func (f *fixture) withWebhooks() {
	f.t.Helper()
	keyID := f.withSealingKey()
	f.svc.Config.WebhookQueueURL = f.res.QueueURLs["WebhookQueue"]
	f.svc.Config.Webhook = inprocess.WebhookConfig{
		DeadLetterQueueURL: f.res.QueueURLs["WebhookDeadLetterQueue"],
		SealingKeys:        config.SealingKeys(context.Background(), stack.Clients.SecretsManager, keyID),
		AttemptTimeout:     2 * time.Second,
		Retry:              webhook.RetryPolicy{Schedule: []time.Duration{time.Second}, ClientErrorAttempts: 1},
		Egress:             egress.Local,
	}
	env, err := runenv.Read(f.envFile)
	if err != nil {
		f.t.Fatal(err)
	}
	env[settingWebhookQ] = f.res.QueueURLs["WebhookQueue"]
	env[settingWebhookDLQ] = f.res.QueueURLs["WebhookDeadLetterQueue"]
	if err := runenv.Write(f.envFile, env); err != nil {
		f.t.Fatal(err)
	}
	f.startProcessor(f.svc.ProcessorBatchHandler(f.svc.WebhookAnnouncement(stack.Clients)...))
	worker, err := f.svc.WebhookBatchHandler(stack.Clients)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p := &queue.Poller{SQS: stack.Clients.SQS, QueueURL: f.res.QueueURLs["WebhookQueue"], Handler: worker, Wait: time.Second}
	go func() { defer close(done); _ = p.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); <-done })
}

// TestWebhookCommands: subscribe shows a secret that verifies the delivery
// of a transfer; sync show reports the delivery; list, rotate, disable,
// enable and remove do what they say.
func TestWebhookCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.withWebhooks()
	pub, token := f.createPublisher()
	p := strconv.FormatInt(int64(pub), 10)

	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, body)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	var issued struct {
		Endpoint endpointView `json:"endpoint"`
		Secret   string       `json:"secret"`
	}
	f.okJSON(&issued, "webhook", "subscribe", "--publisher", p, receiver.URL+"/hooks")
	id := issued.Endpoint.EndpointID
	if !strings.HasPrefix(issued.Secret, "whsec_") || !strings.HasPrefix(id, "ep_") || !issued.Endpoint.Enabled {
		t.Fatalf("subscribe printed %+v", issued)
	}
	if out := f.ok("webhook", "list", "--publisher", p).stdout; !rowStarts(out, id, receiver.URL+"/hooks", "inappPurchaseSyncResult", "yes", "1") ||
		strings.Contains(out, issued.Secret) {
		t.Errorf("webhook list:\n%s", out)
	}

	customers := []transfer.CustomerID{transfer.CustomerID(pub)*10 + 1, transfer.CustomerID(pub)*10 + 2}
	if err := f.svc.Stores.Operator.PutCustomers(context.Background(), pub, customers...); err != nil {
		t.Fatal(err)
	}
	tx := "tx-" + p
	if err := f.svc.Stores.Operator.PutPurchase(context.Background(), transfer.Purchase{PublisherID: pub, OriginalTransactionID: tx,
		TransactionIDs: []string{tx}, Owner: customers[0], OfferID: "S1_US", Kind: transfer.KindNonConsumable, State: transfer.StateActive}); err != nil {
		t.Fatal(err)
	}
	syncID := f.transfer(token, int64(customers[1]), tx)
	f.waitFinalized(token, syncID)
	testkit.Eventually(t, "the webhook", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	wh, _ := standardwebhooks.NewWebhook(issued.Secret)
	if err := wh.Verify(bodies[0], got[0].Header); err != nil {
		t.Errorf("the subscribed secret does not verify the delivery: %v", err)
	}
	var shown syncView
	testkit.Eventually(t, "sync show to report the delivery", 10*time.Second, func() bool {
		f.okJSON(&shown, "sync", "show", "--publisher", p, syncID)
		return len(shown.Webhooks) == 1 && shown.Webhooks[0].State == string(webhook.StateDelivered)
	})
	if d := shown.Webhooks[0]; d.EndpointID != id || d.Attempts != 1 || d.LastStatus != 204 || d.DeliveredAt == nil {
		t.Errorf("sync show: %+v", d)
	}
	if out := f.ok("sync", "show", "--publisher", p, syncID).stdout; !rowStarts(out, id, "delivered", "1", "204", "-") {
		t.Errorf("sync show lacks the delivery:\n%s", out)
	}

	rotated := strings.TrimSpace(f.ok("webhook", "rotate", "--publisher", p, id, "--overlap", "1h", "-q").stdout)
	if !strings.HasPrefix(rotated, "whsec_") || rotated == issued.Secret {
		t.Errorf("rotate -q printed %q", rotated)
	}
	if out := f.ok("webhook", "list", "--publisher", p).stdout; !strings.Contains(out, "2 (old one for ") {
		t.Errorf("webhook list after a rotation:\n%s", out)
	}
	f.ok("webhook", "disable", "--publisher", p, id, "--reason", "receiver moving")
	if out := f.ok("webhook", "list", "--publisher", p).stdout; !strings.Contains(out, "no (receiver moving)") {
		t.Errorf("webhook list after disable:\n%s", out)
	}
	f.ok("webhook", "enable", "--publisher", p, id)
	f.ok("webhook", "remove", "--publisher", p, id)
	var list []endpointView
	f.okJSON(&list, "webhook", "list", "--publisher", p)
	if len(list) != 0 {
		t.Errorf("after remove: %+v", list)
	}
	if r := f.ctl("webhook", "remove", "--publisher", p, id); r.code != exitFailed || !strings.Contains(r.stderr, "no such webhook endpoint") {
		t.Errorf("removing twice: %v", r)
	}
	if r := f.ctl("dlq", "list", "webhook"); r.code != exitOK {
		t.Errorf("dlq list webhook: %v", r)
	}
}

// TestWebhookSubscribeNeedsTheSealingKey: without WEBHOOK_SEALING_KEY_SECRET_ID no
// secret can be stored, and the command says where to get the key.
func TestWebhookSubscribeNeedsTheSealingKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pub, _ := f.createPublisher()
	r := f.ctl("webhook", "subscribe", "--publisher", strconv.FormatInt(int64(pub), 10), "http://127.0.0.1:9/hooks")
	if r.code != exitFailed || !strings.Contains(r.stderr, "WEBHOOK_SEALING_KEY_SECRET_ID") {
		t.Errorf("subscribe without a sealing key: %v", r)
	}
	var raw json.RawMessage
	f.okJSON(&raw, "webhook", "list", "--publisher", strconv.FormatInt(int64(pub), 10))
	if string(raw) != "[]" {
		t.Errorf("webhook list --json of none = %s, want []", raw)
	}
}

// rowStarts tells whether a line of a table starts with these cells.
func rowStarts(out string, cells ...string) bool {
	want := strings.Join(cells, " ") + " "
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(strings.Join(strings.Fields(line), " ")+" ", want) {
			return true
		}
	}
	return false
}
