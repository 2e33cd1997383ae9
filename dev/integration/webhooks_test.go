package integration_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// Logical ids of the webhook queues in template.yaml.
const (
	webhookQueueID = "WebhookQueue"
	webhookDLQID   = "WebhookDeadLetterQueue"
)

// hookEnv is an env whose finalizations go through the whole webhook path:
// the processor announces to the webhook queue, and webhook workers (several
// pollers, as Lambda runs several batches at once) fan out and deliver.
type hookEnv struct {
	*env
	endpoints *webhook.Endpoints
	worker    queue.BatchHandler
}

type hookConfig struct {
	// schedule is the retry schedule, scaled down: whole seconds, since SQS
	// hides messages for whole seconds.
	schedule            []time.Duration
	timeout             time.Duration
	clientErrorAttempts int
	// silentProcessor runs the processor without its announcement, as if
	// every hand-off to the webhook queue failed.
	silentProcessor bool
	// metrics receives the functions' EMF lines.
	metrics *emfSink
}

func newHookEnv(t *testing.T, hc hookConfig) *hookEnv {
	t.Helper()
	if hc.timeout == 0 {
		hc.timeout = 2 * time.Second
	}
	if hc.schedule == nil {
		hc.schedule = []time.Duration{time.Second, time.Second}
	}
	if hc.clientErrorAttempts == 0 {
		hc.clientErrorAttempts = webhook.DefaultClientErrorAttempts
	}
	// A handler error (not a scheduled retry) comes back after 5 s, not 180.
	e := newEnv(t, func(c *envConfig) {
		c.resources = append(c.resources, localaws.WithQueueOverride(webhookQueueID, 5, 50))
		if hc.metrics != nil {
			c.cfg.Metrics = hc.metrics
		}
	})
	e.svc.Config.WebhookQueueURL = e.res.QueueURLs[webhookQueueID]
	e.svc.Config.Webhook = inprocess.WebhookConfig{
		DeadLetterQueueURL: e.res.QueueURLs[webhookDLQID],
		SealingKeys:        e.sealingKeys(),
		AttemptTimeout:     hc.timeout,
		// No jitter: the tests compare delays with the schedule.
		Retry:  webhook.RetryPolicy{Schedule: hc.schedule, ClientErrorAttempts: hc.clientErrorAttempts},
		Egress: egress.Local,
	}
	endpoints := e.svc.WebhookEndpoints(egress.Local)
	worker, err := e.svc.WebhookBatchHandler(stack.Clients)
	if err != nil {
		t.Fatal(err)
	}
	h := &hookEnv{env: e, endpoints: endpoints, worker: worker}
	for range 3 {
		h.poll(e.res.QueueURLs[webhookQueueID], worker)
	}
	if hc.silentProcessor {
		e.startProcessor()
	} else {
		e.startProcessor(e.svc.WebhookAnnouncement(stack.Clients)...)
	}
	return h
}

func (h *hookEnv) poll(url string, handler queue.BatchHandler) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p := &queue.Poller{SQS: h.sqs, QueueURL: url, Handler: handler, Wait: time.Second}
	go func() { defer close(done); _ = p.Run(ctx) }()
	h.t.Cleanup(func() { cancel(); <-done })
}

// received is one request a receiver got.
type received struct {
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is a publisher's endpoint on 127.0.0.1; answer decides the
// response to its n-th request (1-based).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		var body json.RawMessage
		_ = json.NewDecoder(r.Body).Decode(&body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{at: at, header: r.Header.Clone(), body: body})
		n := len(rc.got)
		rc.mu.Unlock()
		rc.answer(n, w, r)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// status answers every request with one status.
func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// failing answers 500 to the first n requests, then 204.
func failing(n int) func(int, http.ResponseWriter, *http.Request) {
	return func(i int, w http.ResponseWriter, _ *http.Request) {
		if i <= n {
			http.Error(w, "receiver body that must never be stored", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// hanging never answers within the attempt timeout.
func hanging(_ int, _ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) waitRequests(t *testing.T, n int, timeout time.Duration) []received {
	t.Helper()
	testkit.Eventually(t, "webhook requests", timeout, func() bool { return len(rc.requests()) >= n })
	return rc.requests()
}

func (h *hookEnv) subscribe(p publisher, url string) (webhook.Endpoint, string) {
	h.t.Helper()
	ep, secret, err := h.endpoints.Subscribe(context.Background(), p.id, url, []string{webhook.TopicSyncResult})
	if err != nil {
		h.t.Fatal(err)
	}
	return ep, secret
}

// finalizedTransfer moves a fresh purchase from one customer to another and
// returns the finalized synchronization.
func (h *hookEnv) finalizedTransfer(p publisher) transfer.Synchronization {
	h.t.Helper()
	cs := h.seedCustomers(p, 2)
	pur := h.seedPurchase(p, cs[0], transfer.StateActive, time.Now().Add(time.Hour))
	r := h.transfer(tokenHeader(p), transferBody(cs[1], pur.TransactionIDs[0]))
	if r.status != http.StatusAccepted {
		h.t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	id := r.str("synchronizationId")
	h.waitFinalized(tokenHeader(p), id)
	s, _, err := h.svc.Stores.Syncs.Get(context.Background(), p.id, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *hookEnv) deliveries(s transfer.Synchronization) map[string]webhook.Delivery {
	h.t.Helper()
	ds, err := h.svc.Stores.Deliveries.Deliveries(context.Background(), s.PublisherID, s.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]webhook.Delivery{}
	for _, d := range ds {
		out[d.EndpointID] = d
	}
	return out
}

// waitDelivery polls a delivery until cond holds.
func (h *hookEnv) waitDelivery(s transfer.Synchronization, endpointID string, timeout time.Duration, cond func(webhook.Delivery) bool) webhook.Delivery {
	h.t.Helper()
	var d webhook.Delivery
	testkit.Eventually(h.t, "delivery state of "+endpointID, timeout, func() bool {
		var ok bool
		d, ok = h.deliveries(s)[endpointID]
		return ok && cond(d)
	})
	return d
}

// attempted holds once an attempt's outcome is recorded.
func attempted(d webhook.Delivery) bool { return d.Attempts >= 1 && d.LeaseUntil.IsZero() }

func in(states ...webhook.DeliveryState) func(webhook.Delivery) bool {
	return func(d webhook.Delivery) bool {
		for _, s := range states {
			if d.State == s {
				return true
			}
		}
		return false
	}
}

// drained waits until the webhook queue holds nothing, so that no further
// attempt can come.
func (h *hookEnv) drained(timeout time.Duration) {
	h.t.Helper()
	testkit.Eventually(h.t, "webhook queue drained", timeout, func() bool { return h.queueDepth(h.res.QueueURLs[webhookQueueID]) == 0 })
}

// verify checks a request with the official Standard Webhooks library.
func verify(t *testing.T, secret string, r received) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.body, r.header); err != nil {
		t.Errorf("the Standard Webhooks library refuses the delivery: %v (headers %v)", err, r.header)
	}
}

// TestWebhookDelivered: one finalization, one signed delivery whose body is
// exactly docs/contract.md §4, recorded as delivered.
func TestWebhookDelivered(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, hookConfig{})
	pub := h.seedPublisher(true, false)
	rc := newReceiver(t, status(http.StatusOK))
	ep, secret := h.subscribe(pub, rc.srv.URL+"/hooks?tenant=a")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Errorf("secret %q is not whsec_…", secret)
	}

	s := h.finalizedTransfer(pub)
	got := rc.waitRequests(t, 1, 10*time.Second)[0]
	t.Logf("finalization to first delivery on loopback: %v", got.at.Sub(s.FinalizedAt).Round(time.Millisecond))
	verify(t, secret, got)

	var body map[string]any
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"broadcasterId": float64(pub.id),
		"topic":         "inappPurchaseSyncResult",
		"data": map[string]any{
			"synchronizationId":        s.ID,
			"transactionId":            s.TransactionID,
			"originalTransactionId":    s.OriginalTransactionID,
			"cleengCustomerId":         float64(s.Target),
			"accessGranted":            true,
			"offerId":                  "S123456789_US",
			"result":                   "PURCHASE_OWNERSHIP_TRANSFERRED",
			"previousCleengCustomerId": float64(s.PreviousOwner),
		},
	}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("payload = %s\nwant     %v", got.body, want)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}

	d := h.waitDelivery(s, ep.ID, 5*time.Second, in(webhook.StateDelivered))
	if d.Attempts != 1 || d.LastStatus != 200 || d.LastError != "" || d.DeliveredAt.IsZero() {
		t.Errorf("delivery = %+v, want delivered on attempt 1 with 200", d)
	}
	if id := got.header.Get("webhook-id"); id != d.EventID || id != transfer.EventID(s) {
		t.Errorf("webhook-id %q, delivery event %q, synchronization event %q", id, d.EventID, transfer.EventID(s))
	}
	// The dispatcher marks the event dispatched after it has fanned it out,
	// so the delivery can come first: wait for the mark, with a deadline.
	testkit.Eventually(t, "the event recorded and marked dispatched", 10*time.Second, func() bool {
		ev, err := h.svc.Stores.Events.Event(context.Background(), webhook.EventKey{PublisherID: pub.id, SynchronizationID: s.ID})
		return err == nil && ev != nil && ev.Dispatched
	})
	h.drained(5 * time.Second)
	if n := len(rc.requests()); n != 1 {
		t.Errorf("%d requests, want exactly 1", n)
	}
}

// TestWebhookRetriedUntilSuccess: a receiver failing 3 times gets 4
// attempts, the same webhook-id on each, after growing delays, and exactly
// one success.
func TestWebhookRetriedUntilSuccess(t *testing.T) {
	t.Parallel()
	// Steps 3s apart: an SQS delay is whole seconds and a receive adds
	// latency, so a wait can run over its step by a second or more on a
	// loaded machine; each step must still be longer than the previous wait.
	schedule := []time.Duration{time.Second, 4 * time.Second, 7 * time.Second}
	h := newHookEnv(t, hookConfig{schedule: schedule})
	pub := h.seedPublisher(true, false)
	rc := newReceiver(t, failing(3))
	ep, secret := h.subscribe(pub, rc.srv.URL)

	s := h.finalizedTransfer(pub)
	// While it is retried, the state says so, without the receiver's body.
	pending := h.waitDelivery(s, ep.ID, 10*time.Second, attempted)
	if pending.State == webhook.StatePending && (pending.LastStatus != 500 || strings.Contains(pending.LastError, "must never") ||
		pending.NextAttemptAt.IsZero()) {
		t.Errorf("pending delivery = %+v, want last status 500, a next attempt, and no response body", pending)
	}
	d := h.waitDelivery(s, ep.ID, 45*time.Second, in(webhook.StateDelivered, webhook.StateFailed))
	h.drained(5 * time.Second)

	got := rc.requests()
	if len(got) != 4 || d.State != webhook.StateDelivered || d.Attempts != 4 || d.LastStatus != 204 {
		t.Fatalf("%d requests, delivery %+v; want 4 attempts, the 4th delivered", len(got), d)
	}
	for i, r := range got {
		verify(t, secret, r)
		if r.header.Get("webhook-id") != d.EventID {
			t.Errorf("attempt %d: webhook-id %q, want %q on every attempt", i+1, r.header.Get("webhook-id"), d.EventID)
		}
		if string(r.body) != string(got[0].body) {
			t.Errorf("attempt %d: body changed: %s", i+1, r.body)
		}
	}
	var prev time.Duration
	for i := 1; i < len(got); i++ {
		gap := got[i].at.Sub(got[i-1].at)
		t.Logf("wait before attempt %d: %v (schedule %v)", i+1, gap.Round(time.Millisecond), schedule[i-1])
		if gap < schedule[i-1] || gap <= prev {
			t.Errorf("wait before attempt %d = %v; want at least %v and longer than the previous %v", i+1, gap, schedule[i-1], prev)
		}
		prev = gap
	}
}

// TestWebhookTimeout: a receiver that does not answer within the attempt
// timeout is retried (and neither slows the transfer).
func TestWebhookTimeout(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	h := newHookEnv(t, hookConfig{timeout: timeout, schedule: []time.Duration{time.Second}})
	pub := h.seedPublisher(true, false)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			hanging(n, w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep, secret := h.subscribe(pub, rc.srv.URL)

	began := time.Now()
	s := h.finalizedTransfer(pub)
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("the transfer took %v to finalize", took)
	}
	first := h.waitDelivery(s, ep.ID, 10*time.Second, attempted)
	if first.State == webhook.StatePending && (first.LastStatus != 0 || !strings.Contains(first.LastError, "no response within")) {
		t.Errorf("after the hanging attempt: %+v, want no status and a timeout error", first)
	}
	d := h.waitDelivery(s, ep.ID, 15*time.Second, in(webhook.StateDelivered, webhook.StateFailed))
	got := rc.requests()
	if d.State != webhook.StateDelivered || d.Attempts != 2 || len(got) != 2 {
		t.Fatalf("delivery %+v after %d requests; want delivered on attempt 2", d, len(got))
	}
	verify(t, secret, got[1])
	if gap := got[1].at.Sub(got[0].at); gap < timeout+time.Second {
		t.Errorf("second attempt %v after the first; want at least the timeout plus the first step", gap)
	}
}

// TestWebhookGone: 410 disables the endpoint; later events skip it.
func TestWebhookGone(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, hookConfig{})
	pub := h.seedPublisher(true, false)
	rc := newReceiver(t, status(http.StatusGone))
	ep, _ := h.subscribe(pub, rc.srv.URL)

	s := h.finalizedTransfer(pub)
	d := h.waitDelivery(s, ep.ID, 10*time.Second, in(webhook.StateCancelled, webhook.StateFailed, webhook.StateDelivered))
	if d.State != webhook.StateCancelled || d.Attempts != 1 || d.LastStatus != 410 {
		t.Errorf("delivery = %+v, want cancelled after one 410", d)
	}
	var stored webhook.Endpoint
	testkit.Eventually(t, "endpoint disabled", 5*time.Second, func() bool {
		list, err := h.endpoints.List(context.Background(), pub.id)
		if err != nil || len(list) != 1 {
			t.Fatalf("endpoints %v, %v", list, err)
		}
		stored = list[0]
		return !stored.Enabled
	})
	if !strings.Contains(stored.DisabledReason, "410") {
		t.Errorf("disabled reason %q does not say 410", stored.DisabledReason)
	}

	later := h.finalizedTransfer(pub)
	testkit.Eventually(t, "later event dispatched", 10*time.Second, func() bool {
		ev, err := h.svc.Stores.Events.Event(context.Background(), webhook.EventKey{PublisherID: pub.id, SynchronizationID: later.ID})
		return err == nil && ev != nil && ev.Dispatched
	})
	h.drained(5 * time.Second)
	if n := len(rc.requests()); n != 1 {
		t.Errorf("%d requests to a gone endpoint, want 1", n)
	}
	if ds := h.deliveries(later); len(ds) != 0 {
		t.Errorf("deliveries to a disabled endpoint: %+v", ds)
	}
}

// TestWebhookRetryAfter: a 429's Retry-After is honoured over a shorter step.
func TestWebhookRetryAfter(t *testing.T) {
	t.Parallel()
	const retryAfter = 3 * time.Second
	h := newHookEnv(t, hookConfig{schedule: []time.Duration{time.Second}})
	pub := h.seedPublisher(true, false)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep, _ := h.subscribe(pub, rc.srv.URL)

	s := h.finalizedTransfer(pub)
	d := h.waitDelivery(s, ep.ID, 15*time.Second, in(webhook.StateDelivered, webhook.StateFailed))
	got := rc.requests()
	if d.State != webhook.StateDelivered || len(got) != 2 {
		t.Fatalf("delivery %+v after %d requests", d, len(got))
	}
	if gap := got[1].at.Sub(got[0].at); gap < retryAfter {
		t.Errorf("retried %v after a 429 with Retry-After: 3", gap)
	}
}

// TestWebhookEndpointsAreIsolated: of two endpoints of one publisher, one
// hangs; the other is served at once, and each has its own delivery.
func TestWebhookEndpointsAreIsolated(t *testing.T) {
	t.Parallel()
	const timeout = 3 * time.Second
	h := newHookEnv(t, hookConfig{timeout: timeout, schedule: []time.Duration{time.Second}})
	pub := h.seedPublisher(true, false)
	down := newReceiver(t, hanging)
	up := newReceiver(t, status(http.StatusOK))
	downEP, _ := h.subscribe(pub, down.srv.URL)
	upEP, secret := h.subscribe(pub, up.srv.URL)

	s := h.finalizedTransfer(pub)
	got := up.waitRequests(t, 1, 10*time.Second)[0]
	verify(t, secret, got)
	if late := got.at.Sub(s.FinalizedAt); late > timeout/2 {
		t.Errorf("the healthy endpoint was served %v after finalization, waiting for the hanging one", late)
	}
	if d := h.waitDelivery(s, upEP.ID, 5*time.Second, in(webhook.StateDelivered)); d.Attempts != 1 {
		t.Errorf("healthy delivery %+v", d)
	}
	d := h.waitDelivery(s, downEP.ID, 15*time.Second, attempted)
	if d.State == webhook.StateDelivered || d.LastStatus != 0 {
		t.Errorf("hanging endpoint's delivery = %+v", d)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("the healthy endpoint got %d requests, want 1", n)
	}
}

// TestWebhookOncePerEvent: a redelivered transfer job and a repeated
// dispatch produce no second event and no second delivery.
func TestWebhookOncePerEvent(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, hookConfig{})
	pub := h.seedPublisher(true, false)
	rc := newReceiver(t, status(http.StatusOK))
	ep, _ := h.subscribe(pub, rc.srv.URL)

	s := h.finalizedTransfer(pub)
	h.waitDelivery(s, ep.ID, 10*time.Second, in(webhook.StateDelivered))

	h.sendJob(transfer.JobOf(s))
	h.sendJob(transfer.JobOf(s))
	key := webhook.EventKey{PublisherID: pub.id, SynchronizationID: s.ID}
	if err := h.svc.WebhookQueue(stack.Clients).Dispatch(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "redeliveries consumed", 10*time.Second, func() bool { return h.queueDepth(h.res.TransferQueueURL()) == 0 })
	h.drained(10 * time.Second)

	if n := len(rc.requests()); n != 1 {
		t.Errorf("%d deliveries of one event, want 1", n)
	}
	if events := h.items()["EVENT"]; len(events) != 1 {
		t.Errorf("%d events recorded, want 1", len(events))
	}
	if ds := h.deliveries(s); len(ds) != 1 || ds[ep.ID].Attempts != 1 {
		t.Errorf("deliveries = %+v, want one with one attempt", ds)
	}
}

// TestWebhookRotatedSecret: during a rotation's overlap each delivery
// carries one signature per secret, so either secret verifies it; once the
// old secret is dropped it no longer does.
func TestWebhookRotatedSecret(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, hookConfig{})
	pub := h.seedPublisher(true, false)
	rc := newReceiver(t, status(http.StatusOK))
	ep, oldSecret := h.subscribe(pub, rc.srv.URL)
	_, newSecret, err := h.endpoints.Rotate(context.Background(), pub.id, ep.ID, time.Hour)
	if err != nil || newSecret == oldSecret {
		t.Fatalf("rotate: %v", err)
	}

	h.finalizedTransfer(pub)
	got := rc.waitRequests(t, 1, 10*time.Second)[0]
	if sigs := strings.Fields(got.header.Get("webhook-signature")); len(sigs) != 2 {
		t.Errorf("webhook-signature %q, want two v1 signatures", got.header.Get("webhook-signature"))
	}
	verify(t, oldSecret, got)
	verify(t, newSecret, got)

	// No overlap: the previous secret stops signing at once.
	_, newest, err := h.endpoints.Rotate(context.Background(), pub.id, ep.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.finalizedTransfer(pub)
	next := rc.waitRequests(t, 2, 10*time.Second)[1]
	verify(t, newest, next)
	if wh, _ := standardwebhooks.NewWebhook(newSecret); wh.Verify(next.body, next.header) == nil {
		t.Error("a secret rotated out without overlap still verifies")
	}
}

// TestWebhookGivenUp: retries exhausted (5xx) or refusals repeated (4xx)
// end the delivery as failed and park it in the dead-letter queue; a parked
// delivery moved back to the webhook queue (transferctl dlq redrive) starts
// over.
func TestWebhookGivenUp(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, hookConfig{schedule: []time.Duration{time.Second, time.Second, time.Second}, clientErrorAttempts: 2})
	pub := h.seedPublisher(true, false)
	broken := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 4 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK) // healed, by the time an operator redrives
	})
	refusing := newReceiver(t, status(http.StatusBadRequest))
	brokenEP, _ := h.subscribe(pub, broken.srv.URL)
	refusingEP, _ := h.subscribe(pub, refusing.srv.URL)

	s := h.finalizedTransfer(pub)
	failed := in(webhook.StateFailed, webhook.StateDelivered, webhook.StateCancelled)
	b := h.waitDelivery(s, brokenEP.ID, 20*time.Second, failed)
	r := h.waitDelivery(s, refusingEP.ID, 20*time.Second, failed)
	if b.State != webhook.StateFailed || b.Attempts != 4 || b.LastStatus != 503 || len(broken.requests()) != 4 {
		t.Errorf("5xx delivery = %+v after %d requests; want failed after 4 attempts", b, len(broken.requests()))
	}
	if r.State != webhook.StateFailed || r.Attempts != 2 || r.LastStatus != 400 || len(refusing.requests()) != 2 {
		t.Errorf("4xx delivery = %+v after %d requests; want failed after 2 attempts", r, len(refusing.requests()))
	}

	parked := map[string]string{}
	dlq := h.res.QueueURLs[webhookDLQID]
	testkit.Eventually(t, "both deliveries parked", 10*time.Second, func() bool {
		for _, m := range receiveAll(t, h.env, dlq) {
			var msg webhook.Message
			if err := json.Unmarshal([]byte(m), &msg); err != nil || msg.Kind != webhook.KindDeliver || msg.SynchronizationID != s.ID {
				t.Errorf("dead-letter message %s", m)
				continue
			}
			parked[msg.EndpointID] = m
		}
		return parked[brokenEP.ID] != "" && parked[refusingEP.ID] != ""
	})
	// The message is parked before its delivery record notes it (so that a
	// crash in between can never lose the message): wait for the note.
	for _, id := range []string{brokenEP.ID, refusingEP.ID} {
		testkit.Eventually(t, "delivery "+id+" marked parked", 10*time.Second, func() bool {
			return !h.deliveries(s)[id].ParkedAt.IsZero()
		})
	}

	webhookQueue := h.res.QueueURLs[webhookQueueID]
	body := parked[brokenEP.ID]
	if _, err := h.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &webhookQueue, MessageBody: &body}); err != nil {
		t.Fatal(err)
	}
	d := h.waitDelivery(s, brokenEP.ID, 10*time.Second, in(webhook.StateDelivered))
	if d.Attempts != 1 || len(broken.requests()) != 5 {
		t.Errorf("after the redrive: %+v after %d requests; want delivered on the first attempt of the new round", d, len(broken.requests()))
	}
}

// TestWebhookClaimOfADeadConsumer: a consumer that claimed an attempt and
// died before sending it leaves a lease and no answer. The delivery's message,
// when it comes back and finds the lease, is kept until the lease has run out
// and then makes the attempt: deleting it (as if the lease's holder had a
// message of its own to retry with) would lose the delivery, since SQS's
// copies of one message are one message.
func TestWebhookClaimOfADeadConsumer(t *testing.T) {
	t.Parallel()
	// The second attempt waits 10 s: the window in which the test plays the
	// dead consumer, before the message comes back; generous for a loaded
	// machine, where a poll and a claim can take seconds.
	h := newHookEnv(t, hookConfig{schedule: []time.Duration{10 * time.Second, time.Second}})
	pub := h.seedPublisher(true, false)
	rc := newReceiver(t, failing(1))
	ep, _ := h.subscribe(pub, rc.srv.URL)

	s := h.finalizedTransfer(pub)
	first := h.waitDelivery(s, ep.ID, 10*time.Second, attempted)
	if first.State != webhook.StatePending || first.Attempts != 1 {
		t.Fatalf("after the first attempt: %+v, want pending for a retry", first)
	}
	leaseEnd := first.NextAttemptAt.Add(3 * time.Second)
	if err := h.svc.Stores.Deliveries.Claim(context.Background(), first, time.Now(), leaseEnd); err != nil {
		t.Fatalf("claim as the dead consumer (before the retry was due): %v", err)
	}

	d := h.waitDelivery(s, ep.ID, 30*time.Second, in(webhook.StateDelivered, webhook.StateFailed, webhook.StateCancelled))
	h.drained(10 * time.Second)
	got := rc.requests()
	if d.State != webhook.StateDelivered || d.Attempts != 3 || len(got) != 2 {
		t.Fatalf("delivery %+v after %d requests; want delivered by attempt 3 (the dead consumer's claim counted as 2), 2 requests", d, len(got))
	}
	if got[1].at.Before(leaseEnd) {
		t.Errorf("second request at %v, before the dead consumer's lease ended at %v", got[1].at, leaseEnd)
	}
}

// TestWebhookLostAnnouncement: when the processor's hand-off never happens,
// the event waits in the pendingEvents index and the sweeper dispatches it.
func TestWebhookLostAnnouncement(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, hookConfig{silentProcessor: true})
	pub := h.seedPublisher(true, false)
	rc := newReceiver(t, status(http.StatusOK))
	ep, secret := h.subscribe(pub, rc.srv.URL)

	s := h.finalizedTransfer(pub)
	h.svc.Config.SweepGrace = 0
	sweeper := h.svc.Redispatcher(stack.Clients)
	// The index is eventually consistent: sweep until the event is found.
	testkit.Eventually(t, "the sweeper to find the pending event", 10*time.Second, func() bool {
		n, err := sweeper.Sweep(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
	verify(t, secret, rc.waitRequests(t, 1, 10*time.Second)[0])
	h.waitDelivery(s, ep.ID, 5*time.Second, in(webhook.StateDelivered))
	pending, err := h.svc.Stores.Events.PendingEvents(context.Background(), time.Now().Add(time.Minute), 10)
	if err != nil || len(pending) != 0 {
		t.Errorf("pending events after dispatch: %v, %v", pending, err)
	}
}

// receiveAll takes the messages visible in a queue now and returns their bodies.
func receiveAll(t *testing.T, e *env, url string) []string {
	t.Helper()
	out, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	bodies := make([]string, len(out.Messages))
	for i, m := range out.Messages {
		bodies[i] = aws.ToString(m.Body)
	}
	return bodies
}

// TestWebhookFirstDeliveryDelay reports the delay from finalization (the
// processor's decision, just before its commit) to a webhook's arrival at a
// receiver on loopback: the announcement, the fan-out and the first attempt,
// two queue hops. Run it alone for a clean figure:
//
//	go test -count=1 -v -run TestWebhookFirstDeliveryDelay ./dev/integration/
func TestWebhookFirstDeliveryDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	t.Parallel()
	const transfers = 10
	h := newHookEnv(t, hookConfig{})
	pub := h.seedPublisher(true, false)
	rc := newReceiver(t, status(http.StatusOK))
	_, secret := h.subscribe(pub, rc.srv.URL)
	delays := make([]time.Duration, transfers)
	for i := range delays {
		s := h.finalizedTransfer(pub)
		got := rc.waitRequests(t, i+1, 10*time.Second)[i]
		verify(t, secret, got)
		delays[i] = got.at.Sub(s.FinalizedAt)
	}
	slices.Sort(delays)
	t.Logf("finalization to first delivery over %d transfers: min %v, median %v, max %v", transfers,
		delays[0].Round(time.Millisecond), delays[transfers/2].Round(time.Millisecond), delays[transfers-1].Round(time.Millisecond))
}

// TestWebhookEndpointManagement: what the operator CLI does, against the
// table: subscribe (secret shown once, stored sealed), list, rotate with an
// overlap, disable, enable, remove; refusals of bad targets and publishers.
func TestWebhookEndpointManagement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.svc.Config.Webhook.SealingKeys = e.sealingKeys()
	strict := e.svc.WebhookEndpoints(egress.Policy{})
	local := e.svc.WebhookEndpoints(egress.Local)
	pub := e.seedPublisher(true, false)
	other := e.seedPublisher(true, false)

	for _, url := range []string{"http://hooks.example.com/", "https://127.0.0.1/", "https://localhost/", "https://169.254.169.254/"} {
		if _, _, err := strict.Subscribe(ctx, pub.id, url, nil); !errors.Is(err, egress.ErrRefused) {
			t.Errorf("AWS policy subscribed %s: %v", url, err)
		}
	}
	if _, _, err := local.Subscribe(ctx, transfer.PublisherID(newID()), "http://127.0.0.1:9/", nil); !errors.Is(err, webhook.ErrUnknownPublisher) {
		t.Errorf("subscribed an unknown publisher: %v", err)
	}
	if _, _, err := local.Subscribe(ctx, pub.id, "http://127.0.0.1:9/", []string{"somethingElse"}); !errors.Is(err, webhook.ErrUnknownTopic) {
		t.Errorf("subscribed an unknown topic: %v", err)
	}

	ep, secret, err := local.Subscribe(ctx, pub.id, "http://127.0.0.1:9/hooks", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ep.Enabled || !ep.Subscribed(webhook.TopicSyncResult) || len(ep.Secrets) != 1 {
		t.Errorf("new endpoint = %+v", ep)
	}
	raw := strings.TrimPrefix(secret, "whsec_")
	for _, item := range e.items()["WEBHOOK"] {
		if b, _ := json.Marshal(item); strings.Contains(string(b), raw) {
			t.Error("the signing secret is stored in clear")
		}
	}
	if list, err := local.List(ctx, other.id); err != nil || len(list) != 0 {
		t.Errorf("another publisher sees %v, %v", list, err)
	}

	rotated, _, err := local.Rotate(ctx, pub.id, ep.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rotated.ActiveSecrets(time.Now())); n != 2 || rotated.Secrets[1].ExpiresAt.IsZero() {
		t.Errorf("after a rotation with overlap: %d active secrets, %+v", n, rotated.Secrets)
	}
	twice, _, err := local.Rotate(ctx, pub.id, ep.ID, time.Hour)
	if err != nil || len(twice.Secrets) != 2 {
		t.Errorf("after a second rotation: %+v, %v; want two secrets at most", twice.Secrets, err)
	}
	if _, _, err := local.Rotate(ctx, other.id, ep.ID, time.Hour); !errors.Is(err, webhook.ErrUnknownEndpoint) {
		t.Errorf("another publisher rotated the endpoint: %v", err)
	}

	if d, err := local.Disable(ctx, pub.id, ep.ID, "operator"); err != nil || d.Enabled || d.DisabledReason != "operator" {
		t.Errorf("disable: %+v, %v", d, err)
	}
	if d, err := local.Enable(ctx, pub.id, ep.ID); err != nil || !d.Enabled || d.DisabledReason != "" {
		t.Errorf("enable: %+v, %v", d, err)
	}
	if err := local.Remove(ctx, other.id, ep.ID); !errors.Is(err, webhook.ErrUnknownEndpoint) {
		t.Errorf("another publisher removed the endpoint: %v", err)
	}
	if err := local.Remove(ctx, pub.id, ep.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := local.List(ctx, pub.id); len(list) != 0 {
		t.Errorf("after remove: %v", list)
	}
	if err := local.Remove(ctx, pub.id, ep.ID); !errors.Is(err, webhook.ErrUnknownEndpoint) {
		t.Errorf("removed twice: %v", err)
	}
}
