package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// The Deliverer's state machine, against in-memory ports, a clock that moves
// only when told to, the real Sealer and the real Endpoints.

// t0 is when every test starts.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	// testTimeout is the attempt timeout the harness gives the Deliverer:
	// its lease is testTimeout plus the 30s margin.
	testTimeout = 7 * time.Second
	testLease   = testTimeout + 30*time.Second
	// took is how long each attempt's request takes on the test clock.
	took = 250 * time.Millisecond
	// claimSlack mirrors the Deliverer's tolerance for a message that comes
	// back a little early (dueSlack).
	claimSlack = time.Second
)

// testPolicy has no jitter, so that every time is exact: 4 attempts, and 2
// while the receiver refuses.
var testPolicy = webhook.RetryPolicy{
	Schedule:            []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute},
	ClientErrorAttempts: 2,
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Set(t time.Time)         { c.now = t }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// memEndpoints is an EndpointStore.
type memEndpoints struct {
	byKey map[string]webhook.Endpoint
}

func endpointKey(p transfer.PublisherID, id string) string { return fmt.Sprint(p, "/", id) }

func (s *memEndpoints) CreateEndpoint(_ context.Context, e webhook.Endpoint) error {
	s.byKey[endpointKey(e.PublisherID, e.ID)] = e
	return nil
}

func (s *memEndpoints) ReplaceEndpoint(_ context.Context, e webhook.Endpoint, from int64) error {
	old, ok := s.byKey[endpointKey(e.PublisherID, e.ID)]
	switch {
	case !ok:
		return webhook.ErrUnknownEndpoint
	case old.Version != from:
		return webhook.ErrEndpointChanged
	}
	s.byKey[endpointKey(e.PublisherID, e.ID)] = e
	return nil
}

func (s *memEndpoints) Endpoint(_ context.Context, p transfer.PublisherID, id string) (*webhook.Endpoint, error) {
	e, ok := s.byKey[endpointKey(p, id)]
	if !ok {
		return nil, nil
	}
	return &e, nil
}

func (s *memEndpoints) Endpoints(_ context.Context, p transfer.PublisherID) ([]webhook.Endpoint, error) {
	var out []webhook.Endpoint
	for _, e := range s.byKey {
		if e.PublisherID == p {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *memEndpoints) DeleteEndpoint(_ context.Context, p transfer.PublisherID, id string) error {
	if _, ok := s.byKey[endpointKey(p, id)]; !ok {
		return webhook.ErrUnknownEndpoint
	}
	delete(s.byKey, endpointKey(p, id))
	return nil
}

type claimCall struct{ at, leaseUntil time.Time }

type cancelCall struct {
	reason string
	at     time.Time
}

// memDeliveries is the Deliverer's store, with the conditions of the
// DynamoDB one: a claim needs the delivery pending, due, not leased and
// still at the attempt the Deliverer read.
type memDeliveries struct {
	endpoints  *memEndpoints
	deliveries map[webhook.DeliveryKey]webhook.Delivery
	syncs      map[string]transfer.Synchronization

	claims  []claimCall
	records []webhook.Delivery
	cancels []cancelCall
	// beforeClaim runs as a claim starts: another copy of the message.
	beforeClaim func()
}

var _ webhook.DelivererStore = (*memDeliveries)(nil)

func (s *memDeliveries) LoadAttempt(_ context.Context, k webhook.DeliveryKey) (webhook.Attempt, error) {
	var a webhook.Attempt
	d, ok := s.deliveries[k]
	if !ok {
		return a, nil
	}
	a.Delivery = &d
	if e, ok := s.endpoints.byKey[endpointKey(k.PublisherID, k.EndpointID)]; ok {
		a.Endpoint = &e
	}
	if sync, ok := s.syncs[k.SynchronizationID]; ok {
		a.Sync = &sync
	}
	return a, nil
}

// attemptIs holds while the delivery is pending at the attempt d knows.
func (s *memDeliveries) attemptIs(d webhook.Delivery) (webhook.Delivery, bool) {
	cur, ok := s.deliveries[d.DeliveryKey]
	return cur, ok && cur.State == webhook.StatePending && cur.Attempts == d.Attempts
}

func leaseFree(d webhook.Delivery, at time.Time) bool {
	return d.LeaseUntil.IsZero() || d.LeaseUntil.Before(at)
}

func (s *memDeliveries) Claim(_ context.Context, d webhook.Delivery, at, leaseUntil time.Time) error {
	if s.beforeClaim != nil {
		s.beforeClaim()
	}
	s.claims = append(s.claims, claimCall{at, leaseUntil})
	cur, ok := s.attemptIs(d)
	if !ok || !leaseFree(cur, at) || at.Before(cur.NextAttemptAt.Add(-claimSlack)) {
		return webhook.ErrClaimLost
	}
	cur.Attempts++
	cur.LeaseUntil = leaseUntil
	s.deliveries[d.DeliveryKey] = cur
	return nil
}

func (s *memDeliveries) Record(_ context.Context, d webhook.Delivery) error {
	s.records = append(s.records, d)
	cur, ok := s.attemptIs(d)
	if !ok {
		return webhook.ErrClaimLost
	}
	cur.State = d.State
	cur.LastAttemptAt = d.LastAttemptAt
	cur.LastStatus = d.LastStatus
	cur.LastError = d.LastError
	cur.LeaseUntil = time.Time{}
	cur.NextAttemptAt = time.Time{}
	if d.State == webhook.StatePending {
		cur.NextAttemptAt = d.NextAttemptAt
	}
	if !d.DeliveredAt.IsZero() {
		cur.DeliveredAt = d.DeliveredAt
	}
	s.deliveries[d.DeliveryKey] = cur
	return nil
}

func (s *memDeliveries) Cancel(_ context.Context, d webhook.Delivery, reason string, at time.Time) error {
	s.cancels = append(s.cancels, cancelCall{reason, at})
	cur, ok := s.attemptIs(d)
	if !ok || !leaseFree(cur, at) {
		return webhook.ErrClaimLost
	}
	cur.State = webhook.StateCancelled
	cur.LastError = reason
	cur.NextAttemptAt = time.Time{}
	s.deliveries[d.DeliveryKey] = cur
	return nil
}

func (s *memDeliveries) MarkParked(_ context.Context, k webhook.DeliveryKey, at time.Time) error {
	if cur, ok := s.deliveries[k]; ok {
		cur.ParkedAt = at
		s.deliveries[k] = cur
	}
	return nil
}

func (s *memDeliveries) Reopen(_ context.Context, k webhook.DeliveryKey, _ time.Time) error {
	cur, ok := s.deliveries[k]
	if !ok || cur.State != webhook.StateFailed {
		return webhook.ErrClaimLost
	}
	cur.State = webhook.StatePending
	cur.Attempts = 0
	cur.ParkedAt, cur.NextAttemptAt, cur.LeaseUntil = time.Time{}, time.Time{}, time.Time{}
	s.deliveries[k] = cur
	return nil
}

// memQueue is the dead-letter queue the Deliverer parks in.
type memQueue struct {
	parked  []webhook.Delivery
	parkErr error
}

var _ webhook.Parker = (*memQueue)(nil)

func (q *memQueue) Park(_ context.Context, d webhook.Delivery) error {
	if q.parkErr != nil {
		return q.parkErr
	}
	q.parked = append(q.parked, d)
	return nil
}

type sendCall struct {
	url, id string
	at      time.Time
	body    []byte
	keys    [][]byte
}

// scriptedSender answers each attempt with the next answer, taking `took` on
// the test clock.
type scriptedSender struct {
	clock   *clock
	answers []webhook.Answer
	calls   []sendCall
	// during runs while the request is in flight.
	during func()
}

func (s *scriptedSender) Send(_ context.Context, url, id string, at time.Time, body []byte, keys [][]byte) webhook.Answer {
	s.calls = append(s.calls, sendCall{url, id, at, body, keys})
	if len(s.answers) == 0 {
		panic("unexpected attempt")
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	s.clock.Advance(took)
	if s.during != nil {
		s.during()
	}
	return a
}

type harness struct {
	t         *testing.T
	clock     *clock
	endpoints *memEndpoints
	store     *memDeliveries
	queue     *memQueue
	sender    *scriptedSender
	manage    *webhook.Endpoints
	deliverer *webhook.Deliverer
	ep        webhook.Endpoint
	// key is the endpoint's signing key in clear.
	key  []byte
	sync transfer.Synchronization
	k    webhook.DeliveryKey
}

const testPublisher transfer.PublisherID = 7

func newHarness(t *testing.T, opts ...webhook.DelivererOption) *harness {
	t.Helper()
	h := &harness{t: t, clock: &clock{now: t0}}
	h.endpoints = &memEndpoints{byKey: map[string]webhook.Endpoint{}}
	h.store = &memDeliveries{endpoints: h.endpoints, deliveries: map[webhook.DeliveryKey]webhook.Delivery{},
		syncs: map[string]transfer.Synchronization{}}
	h.queue = &memQueue{}
	h.sender = &scriptedSender{clock: h.clock}
	sealer, err := webhook.NewSealer(bytes.Repeat([]byte{0x5e}, webhook.SealingKeySize))
	if err != nil {
		t.Fatal(err)
	}
	h.manage = webhook.NewEndpoints(h.endpoints, sealer, egress.Local)
	ep, shown, err := h.manage.Subscribe(context.Background(), testPublisher, "http://127.0.0.1:8080/hooks", nil)
	if err != nil {
		t.Fatal(err)
	}
	h.ep = ep
	if h.key, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(shown, "whsec_")); err != nil {
		t.Fatal(err)
	}
	if opts == nil {
		opts = []webhook.DelivererOption{webhook.WithRetryPolicy(testPolicy), webhook.WithAttemptTimeout(testTimeout),
			webhook.WithClock(h.clock.Now)}
	}
	h.deliverer = webhook.NewDeliverer(h.store, h.queue, h.manage, sealer, h.sender, opts...)
	h.sync = h.addSync("sync-1")
	h.k = h.addDelivery(h.sync.ID, webhook.Delivery{State: webhook.StatePending})
	return h
}

// addSync stores a finalized synchronization.
func (h *harness) addSync(id string) transfer.Synchronization {
	s := transfer.Synchronization{PublisherID: testPublisher, ID: id, TransactionID: "tx-" + id,
		Target: 42, Status: "FINALIZED", Result: transfer.ResultTransferred, PreviousOwner: 41,
		CreatedAt: t0.Add(-time.Minute), FinalizedAt: t0.Add(-time.Second)}
	h.store.syncs[id] = s
	return s
}

// addDelivery stores d as the delivery of syncID's event to the endpoint.
func (h *harness) addDelivery(syncID string, d webhook.Delivery) webhook.DeliveryKey {
	d.DeliveryKey = webhook.DeliveryKey{PublisherID: testPublisher, SynchronizationID: syncID, EndpointID: h.ep.ID}
	d.EventID = "evt_" + syncID
	d.CreatedAt = t0.Add(-time.Second)
	h.store.deliveries[d.DeliveryKey] = d
	return d.DeliveryKey
}

func (h *harness) deliver(k webhook.DeliveryKey) webhook.Outcome {
	h.t.Helper()
	out, err := h.deliverer.Deliver(context.Background(), k)
	if err != nil {
		h.t.Fatalf("Deliver: %v", err)
	}
	return out
}

func (h *harness) delivery(k webhook.DeliveryKey) webhook.Delivery {
	h.t.Helper()
	d, ok := h.store.deliveries[k]
	if !ok {
		h.t.Fatalf("no delivery %v", k)
	}
	return d
}

// want compares the stored delivery with want, which starts from the
// delivery's identity.
func (h *harness) want(k webhook.DeliveryKey, want webhook.Delivery) {
	h.t.Helper()
	want.DeliveryKey = k
	want.EventID = "evt_" + k.SynchronizationID
	want.CreatedAt = t0.Add(-time.Second)
	if got := h.delivery(k); got != want {
		h.t.Errorf("delivery:\n got  %+v\n want %+v", got, want)
	}
}

// quiet checks that nothing was claimed, sent, recorded, cancelled or parked.
func (h *harness) quiet() {
	h.t.Helper()
	if len(h.store.claims)+len(h.sender.calls)+len(h.store.records)+len(h.store.cancels)+len(h.queue.parked) != 0 {
		h.t.Errorf("claims %v, sends %d, records %d, cancels %v, parked %d; want none",
			h.store.claims, len(h.sender.calls), len(h.store.records), h.store.cancels, len(h.queue.parked))
	}
}

func TestDeliverDelivers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.sender.answers = []webhook.Answer{{Status: 204}}
	if out := h.deliver(h.k); out != (webhook.Outcome{}) {
		t.Errorf("outcome = %+v, want done", out)
	}
	h.want(h.k, webhook.Delivery{State: webhook.StateDelivered, Attempts: 1, LastStatus: 204,
		LastAttemptAt: t0, DeliveredAt: t0.Add(took)})
	if want := []claimCall{{t0, t0.Add(testLease)}}; fmt.Sprint(h.store.claims) != fmt.Sprint(want) {
		t.Errorf("claims = %v, want %v", h.store.claims, want)
	}
	if len(h.sender.calls) != 1 {
		t.Fatalf("%d sends, want 1", len(h.sender.calls))
	}
	c := h.sender.calls[0]
	body, err := webhook.SyncResultPayload(h.sync)
	if err != nil {
		t.Fatal(err)
	}
	if c.url != h.ep.URL || c.id != "evt_sync-1" || !c.at.Equal(t0) || !bytes.Equal(c.body, body) {
		t.Errorf("sent %s %s at %v: %s", c.url, c.id, c.at, c.body)
	}
	if len(c.keys) != 1 || !bytes.Equal(c.keys[0], h.key) {
		t.Errorf("signed with %d keys, not the endpoint's secret", len(c.keys))
	}
	if len(h.queue.parked) != 0 {
		t.Errorf("parked %v", h.queue.parked)
	}

	// The message again (a duplicate): nothing more.
	h.clock.Advance(time.Minute)
	if out := h.deliver(h.k); out != (webhook.Outcome{}) {
		t.Errorf("outcome of a duplicate = %+v", out)
	}
	if len(h.store.claims) != 1 || len(h.sender.calls) != 1 {
		t.Errorf("a delivered delivery was attempted again")
	}
}

// TestDeliverRetriesOnSchedule: every answer worth retrying keeps the
// delivery pending until the schedule ends; then it fails and is parked.
func TestDeliverRetriesOnSchedule(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	timeout := fmt.Errorf("no response within 7s: %w", context.DeadlineExceeded)
	h.sender.answers = []webhook.Answer{{Err: timeout}, {Status: 500}, {Status: 408}, {Status: 503}}
	wantStatus := []int{0, 500, 408, 503}
	wantError := []string{timeout.Error(), "HTTP 500 Internal Server Error", "HTTP 408 Request Timeout",
		"HTTP 503 Service Unavailable"}
	for i, wait := range testPolicy.Schedule {
		started := h.clock.Now()
		out := h.deliver(h.k)
		if out.RetryIn != wait {
			t.Errorf("attempt %d: RetryIn = %v, want %v", i+1, out.RetryIn, wait)
		}
		h.want(h.k, webhook.Delivery{State: webhook.StatePending, Attempts: i + 1, LastStatus: wantStatus[i],
			LastError: wantError[i], LastAttemptAt: started, NextAttemptAt: started.Add(took + wait)})
		if c := h.store.claims[i]; !c.at.Equal(started) || !c.leaseUntil.Equal(started.Add(testLease)) {
			t.Errorf("attempt %d claimed %v", i+1, c)
		}
		h.clock.Set(h.delivery(h.k).NextAttemptAt)
	}
	started := h.clock.Now()
	if out := h.deliver(h.k); out != (webhook.Outcome{}) {
		t.Errorf("last attempt: outcome = %+v, want done", out)
	}
	h.want(h.k, webhook.Delivery{State: webhook.StateFailed, Attempts: 4, LastStatus: 503,
		LastError: "HTTP 503 Service Unavailable", LastAttemptAt: started, ParkedAt: started.Add(took)})
	if len(h.queue.parked) != 1 {
		t.Fatalf("parked %d times, want once", len(h.queue.parked))
	}
	if p := h.queue.parked[0]; p.DeliveryKey != h.k || p.State != webhook.StateFailed || p.Attempts != 4 {
		t.Errorf("parked %+v", p)
	}

	// Its message again: nothing more.
	h.clock.Advance(time.Hour)
	if out := h.deliver(h.k); out != (webhook.Outcome{}) || len(h.sender.calls) != 4 || len(h.queue.parked) != 1 {
		t.Errorf("a parked delivery was handled again: %+v, %d sends, %d parks", out, len(h.sender.calls), len(h.queue.parked))
	}
}

func TestDeliverHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		retryAfter, want time.Duration
	}{
		{time.Second, 5 * time.Second}, // never sooner than the schedule
		{time.Minute, time.Minute},
		{20 * time.Hour, webhook.MaxStep},
	} {
		h := newHarness(t)
		h.sender.answers = []webhook.Answer{{Status: 429, RetryAfter: tc.retryAfter}}
		if out := h.deliver(h.k); out.RetryIn != tc.want {
			t.Errorf("Retry-After %v: RetryIn = %v, want %v", tc.retryAfter, out.RetryIn, tc.want)
		}
		if d := h.delivery(h.k); d.State != webhook.StatePending || !d.NextAttemptAt.Equal(t0.Add(took+tc.want)) {
			t.Errorf("Retry-After %v: %s, next attempt at %v", tc.retryAfter, d.State, d.NextAttemptAt)
		}
	}
}

// TestDeliverClientErrors: a refusal is retried while the delivery has had
// fewer than ClientErrorAttempts attempts (of any kind), then given up.
func TestDeliverClientErrors(t *testing.T) {
	t.Parallel()
	refused := fmt.Errorf("%w: 10.0.0.1 is a private address", egress.ErrRefused)
	for _, tc := range []struct {
		name    string
		answers []webhook.Answer
		// givenUp is the attempt that fails the delivery.
		givenUp   int
		lastError string
	}{
		{"400 twice", []webhook.Answer{{Status: 400}, {Status: 400}}, 2, "HTTP 400 Bad Request"},
		{"a redirect", []webhook.Answer{{Status: 302}, {Status: 301}}, 2, "HTTP 301 Moved Permanently"},
		{"egress refused", []webhook.Answer{{Err: refused}, {Err: refused}}, 2, refused.Error()},
		{"404 after a 503", []webhook.Answer{{Status: 503}, {Status: 404}}, 2, "HTTP 404 Not Found"},
		{"503 after a 401 goes on", []webhook.Answer{{Status: 401}, {Status: 503}, {Status: 403}}, 3, "HTTP 403 Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.sender.answers = tc.answers
			for i := 1; i < tc.givenUp; i++ {
				if out := h.deliver(h.k); out.RetryIn != testPolicy.Schedule[i-1] {
					t.Fatalf("attempt %d: RetryIn = %v", i, out.RetryIn)
				}
				if d := h.delivery(h.k); d.State != webhook.StatePending || d.Attempts != i {
					t.Fatalf("attempt %d: %s after %d attempts", i, d.State, d.Attempts)
				}
				h.clock.Set(h.delivery(h.k).NextAttemptAt)
			}
			started := h.clock.Now()
			if out := h.deliver(h.k); out != (webhook.Outcome{}) {
				t.Errorf("attempt %d: outcome = %+v, want done", tc.givenUp, out)
			}
			last := tc.answers[tc.givenUp-1]
			h.want(h.k, webhook.Delivery{State: webhook.StateFailed, Attempts: tc.givenUp, LastStatus: last.Status,
				LastError: tc.lastError, LastAttemptAt: started, ParkedAt: started.Add(took)})
			if len(h.queue.parked) != 1 {
				t.Errorf("parked %d times, want once", len(h.queue.parked))
			}
		})
	}
}

// TestDeliverGone: a 410 cancels the delivery and disables the endpoint, so
// that its other pending deliveries are cancelled without an attempt.
func TestDeliverGone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	other := h.addDelivery(h.addSync("sync-2").ID, webhook.Delivery{State: webhook.StatePending})
	h.sender.answers = []webhook.Answer{{Status: 410}}
	if out := h.deliver(h.k); out != (webhook.Outcome{}) {
		t.Errorf("outcome = %+v, want done", out)
	}
	h.want(h.k, webhook.Delivery{State: webhook.StateCancelled, Attempts: 1, LastStatus: 410,
		LastError: "HTTP 410 Gone", LastAttemptAt: t0})
	if len(h.queue.parked) != 0 {
		t.Errorf("a 410 parked the delivery")
	}
	ep := h.endpoints.byKey[endpointKey(testPublisher, h.ep.ID)]
	if want := "the receiver answered 410 Gone on " + t0.Add(took).Format(time.RFC3339); ep.Enabled || ep.DisabledReason != want {
		t.Errorf("endpoint enabled %v, reason %q; want disabled, %q", ep.Enabled, ep.DisabledReason, want)
	}

	h.clock.Advance(time.Second)
	if out := h.deliver(other); out != (webhook.Outcome{}) {
		t.Errorf("outcome = %+v, want done", out)
	}
	h.want(other, webhook.Delivery{State: webhook.StateCancelled, LastError: "endpoint disabled"})
	if len(h.sender.calls) != 1 || len(h.store.claims) != 1 {
		t.Errorf("the disabled endpoint was attempted again")
	}
}

// TestDeliverGoneFromARemovedEndpoint: the endpoint removed while the 410
// came back leaves nothing to disable, and that is no failure.
func TestDeliverGoneFromARemovedEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.sender.answers = []webhook.Answer{{Status: 410}}
	h.sender.during = func() { delete(h.endpoints.byKey, endpointKey(testPublisher, h.ep.ID)) }
	if out := h.deliver(h.k); out != (webhook.Outcome{}) {
		t.Errorf("outcome = %+v, want done", out)
	}
	if d := h.delivery(h.k); d.State != webhook.StateCancelled || d.Attempts != 1 {
		t.Errorf("%s after %d attempts, want cancelled after 1", d.State, d.Attempts)
	}
}

// TestDeliverNotYetDue: a message back before its delivery's next attempt
// asks to come back when it is due, unless it is less than a second early.
func TestDeliverNotYetDue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		early   time.Duration
		retryIn time.Duration
	}{
		{10 * time.Second, 10 * time.Second},
		{time.Second + time.Millisecond, time.Second + time.Millisecond},
		{time.Second, 0},
		{0, 0},
	} {
		h := newHarness(t)
		next := t0.Add(tc.early)
		pending := webhook.Delivery{State: webhook.StatePending, Attempts: 1, LastStatus: 500,
			LastError: "HTTP 500 Internal Server Error", LastAttemptAt: t0.Add(-time.Minute), NextAttemptAt: next}
		h.addDelivery(h.sync.ID, pending)
		h.sender.answers = []webhook.Answer{{Status: 200}}
		out := h.deliver(h.k)
		if tc.retryIn > 0 {
			if out.RetryIn != tc.retryIn {
				t.Errorf("%v early: RetryIn = %v, want %v", tc.early, out.RetryIn, tc.retryIn)
			}
			h.want(h.k, pending)
			h.quiet()
			continue
		}
		if out != (webhook.Outcome{}) {
			t.Errorf("%v early: outcome = %+v, want done", tc.early, out)
		}
		if d := h.delivery(h.k); d.State != webhook.StateDelivered || d.Attempts != 2 || !d.LastAttemptAt.Equal(t0) {
			t.Errorf("%v early: %s after %d attempts, last at %v", tc.early, d.State, d.Attempts, d.LastAttemptAt)
		}
	}
}

// TestDeliverInFlight: a copy of the message that finds the attempt leased
// leaves it to the copy that holds the lease, but is kept until the lease
// has run out: the other copy may have no message of its own.
func TestDeliverInFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	leased := webhook.Delivery{State: webhook.StatePending, Attempts: 1, LeaseUntil: t0.Add(5 * time.Second)}
	h.addDelivery(h.sync.ID, leased)
	if out := h.deliver(h.k); out.RetryIn < 5*time.Second || out.RetryIn > 7*time.Second {
		t.Errorf("outcome = %+v, want to look again just after the lease (5 s)", out)
	}
	h.want(h.k, leased)
	h.quiet()
}

// TestDeliverClaimLost: a copy that loses the claim sends nothing, and
// looks again after a lease.
func TestDeliverClaimLost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.sender.answers = []webhook.Answer{{Status: 200}}
	// The other copy claims between this one's read and its claim.
	h.store.beforeClaim = func() {
		d := h.delivery(h.k)
		d.Attempts, d.LeaseUntil = 1, t0.Add(testLease)
		h.store.deliveries[h.k] = d
	}
	if out := h.deliver(h.k); out != (webhook.Outcome{RetryIn: testLease}) {
		t.Errorf("outcome = %+v, want to look again after a lease", out)
	}
	if len(h.sender.calls) != 0 || len(h.store.records) != 0 {
		t.Errorf("%d sends, %d records after a lost claim", len(h.sender.calls), len(h.store.records))
	}
	h.want(h.k, webhook.Delivery{State: webhook.StatePending, Attempts: 1, LeaseUntil: t0.Add(testLease)})
}

// TestDeliverOutlivedItsLease: an attempt whose outcome comes back after
// another copy took the next one does not overwrite that one's state.
func TestDeliverOutlivedItsLease(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.sender.answers = []webhook.Answer{{Status: 503}}
	h.sender.during = func() {
		d := h.delivery(h.k)
		d.Attempts, d.LeaseUntil = 2, t0.Add(2*testLease)
		h.store.deliveries[h.k] = d
	}
	if out := h.deliver(h.k); out != (webhook.Outcome{RetryIn: testLease}) {
		t.Errorf("outcome = %+v, want to look again after a lease", out)
	}
	h.want(h.k, webhook.Delivery{State: webhook.StatePending, Attempts: 2, LeaseUntil: t0.Add(2 * testLease)})
	if len(h.store.records) != 1 || len(h.queue.parked) != 0 {
		t.Errorf("%d records, %d parks", len(h.store.records), len(h.queue.parked))
	}
}

func TestDeliverUnknownDelivery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.k
	k.EndpointID = "ep_unknown"
	if out := h.deliver(k); out != (webhook.Outcome{}) {
		t.Errorf("outcome = %+v, want dropped", out)
	}
	h.quiet()
}

// TestDeliverFinished: a delivered, cancelled or parked delivery's message
// is done with, whatever else holds.
func TestDeliverFinished(t *testing.T) {
	t.Parallel()
	for _, d := range []webhook.Delivery{
		{State: webhook.StateDelivered, Attempts: 2, LastStatus: 200, LastAttemptAt: t0.Add(-time.Hour), DeliveredAt: t0.Add(-time.Hour)},
		{State: webhook.StateCancelled, Attempts: 1, LastError: "endpoint disabled"},
		{State: webhook.StateFailed, Attempts: 4, LastStatus: 500, ParkedAt: t0.Add(-time.Minute)},
	} {
		h := newHarness(t)
		h.addDelivery(h.sync.ID, d)
		if out := h.deliver(h.k); out != (webhook.Outcome{}) {
			t.Errorf("%s: outcome = %+v, want done", d.State, out)
		}
		h.want(h.k, d)
		h.quiet()
	}
}

// TestDeliverParksAGivenUpDelivery: a failed delivery whose parking did not
// complete is parked when its message comes back.
func TestDeliverParksAGivenUpDelivery(t *testing.T) {
	t.Parallel()
	failed := webhook.Delivery{State: webhook.StateFailed, Attempts: 4, LastStatus: 500,
		LastError: "HTTP 500 Internal Server Error", LastAttemptAt: t0.Add(-time.Minute)}

	h := newHarness(t)
	h.addDelivery(h.sync.ID, failed)
	if out := h.deliver(h.k); out != (webhook.Outcome{}) {
		t.Errorf("outcome = %+v, want done", out)
	}
	parked := failed
	parked.ParkedAt = t0
	h.want(h.k, parked)
	if len(h.queue.parked) != 1 || h.queue.parked[0].DeliveryKey != h.k {
		t.Errorf("parked %v", h.queue.parked)
	}
	if len(h.store.claims)+len(h.sender.calls) != 0 {
		t.Error("a failed delivery was attempted")
	}

	// The dead-letter queue refuses: the message fails, to come back.
	h = newHarness(t)
	h.addDelivery(h.sync.ID, failed)
	h.queue.parkErr = errors.New("sqs down")
	if _, err := h.deliverer.Deliver(context.Background(), h.k); err == nil || !strings.Contains(err.Error(), "sqs down") {
		t.Errorf("Deliver = %v, want the parking's error", err)
	}
	h.want(h.k, failed)
}

// TestDeliverCancels: a delivery that can no longer be made is cancelled
// before any claim.
func TestDeliverCancels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		reason string
		change func(*harness)
	}{
		{"endpoint removed", func(h *harness) {
			if err := h.manage.Remove(context.Background(), testPublisher, h.ep.ID); err != nil {
				h.t.Fatal(err)
			}
		}},
		{"endpoint disabled", func(h *harness) {
			if _, err := h.manage.Disable(context.Background(), testPublisher, h.ep.ID, "by an operator"); err != nil {
				h.t.Fatal(err)
			}
		}},
		{"synchronization expired", func(h *harness) { delete(h.store.syncs, h.sync.ID) }},
	} {
		h := newHarness(t)
		h.addDelivery(h.sync.ID, webhook.Delivery{State: webhook.StatePending, Attempts: 1, LastStatus: 503,
			LastAttemptAt: t0.Add(-time.Minute), NextAttemptAt: t0})
		tc.change(h)
		if out := h.deliver(h.k); out != (webhook.Outcome{}) {
			t.Errorf("%s: outcome = %+v, want done", tc.reason, out)
		}
		h.want(h.k, webhook.Delivery{State: webhook.StateCancelled, Attempts: 1, LastStatus: 503,
			LastError: tc.reason, LastAttemptAt: t0.Add(-time.Minute)})
		if want := []cancelCall{{tc.reason, t0}}; fmt.Sprint(h.store.cancels) != fmt.Sprint(want) {
			t.Errorf("cancels = %v, want %v", h.store.cancels, want)
		}
		if len(h.store.claims)+len(h.sender.calls)+len(h.queue.parked) != 0 {
			t.Errorf("%s: claimed, sent or parked", tc.reason)
		}
	}
}

// TestRedrive: a parked delivery redriven by an operator starts its attempts
// over; a redriven message whose delivery was reopened already is delivered
// as usual.
func TestRedrive(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addDelivery(h.sync.ID, webhook.Delivery{State: webhook.StateFailed, Attempts: 4, LastStatus: 500,
		LastError: "HTTP 500 Internal Server Error", LastAttemptAt: t0.Add(-time.Hour), ParkedAt: t0.Add(-time.Hour)})
	h.sender.answers = []webhook.Answer{{Status: 503}, {Status: 200}}
	out, err := h.deliverer.Redrive(context.Background(), h.k)
	if err != nil || out.RetryIn != testPolicy.Schedule[0] {
		t.Fatalf("Redrive = %+v, %v; want a retry in %v", out, err, testPolicy.Schedule[0])
	}
	h.want(h.k, webhook.Delivery{State: webhook.StatePending, Attempts: 1, LastStatus: 503,
		LastError: "HTTP 503 Service Unavailable", LastAttemptAt: t0, NextAttemptAt: t0.Add(took + testPolicy.Schedule[0])})

	// The parked copy comes again: the delivery is pending, not failed.
	h.clock.Set(h.delivery(h.k).NextAttemptAt)
	started := h.clock.Now()
	if out, err := h.deliverer.Redrive(context.Background(), h.k); err != nil || out != (webhook.Outcome{}) {
		t.Fatalf("Redrive = %+v, %v; want done", out, err)
	}
	h.want(h.k, webhook.Delivery{State: webhook.StateDelivered, Attempts: 2, LastStatus: 200,
		LastAttemptAt: started, DeliveredAt: started.Add(took)})
}

// TestDelivererDefaults: without options, the production policy and
// timeout.
func TestDelivererDefaults(t *testing.T) {
	t.Parallel()
	for _, opts := range [][]webhook.DelivererOption{
		{},
		{webhook.WithAttemptTimeout(0)},
	} {
		h := newHarness(t, append(opts, webhook.WithClock(nil))...)
		h.sender.answers = []webhook.Answer{{Status: 500}}
		before := time.Now()
		out := h.deliver(h.k)
		after := time.Now()
		first := webhook.DefaultSchedule[0]
		if out.RetryIn > first || out.RetryIn < first-first/5 {
			t.Errorf("RetryIn = %v, want %v less up to 20%%", out.RetryIn, first)
		}
		lease := webhook.DefaultAttemptTimeout + 30*time.Second
		c := h.store.claims[0]
		if c.at.Before(before.Add(-time.Millisecond)) || c.at.After(after) || c.leaseUntil.Sub(c.at) != lease {
			t.Errorf("claimed at %v until %v; want now, for %v", c.at, c.leaseUntil, lease)
		}
	}
}
