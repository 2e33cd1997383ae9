package integration_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/metrics"
	"github.com/acme/purchase-transfer/internal/telemetry"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

// emfSink collects what the functions write as EMF, as `make run` prints it
// on standard output (inprocess.Config.Metrics).
type emfSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *emfSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// emfLine is one decoded line: its root members, and its metadata.
type emfLine struct {
	root map[string]any
	meta struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
}

// lines parses every line written so far; each must be one EMF object.
func (s *emfSink) lines(t *testing.T) []emfLine {
	t.Helper()
	s.mu.Lock()
	text := s.buf.String()
	s.mu.Unlock()
	var out []emfLine
	for l := range strings.SplitSeq(strings.TrimSuffix(text, "\n"), "\n") {
		if l == "" {
			continue
		}
		var e emfLine
		if err := json.Unmarshal([]byte(l), &e.root); err != nil {
			t.Fatalf("a metrics line is not JSON: %q: %v", l, err)
		}
		var wrapper struct {
			AWS json.RawMessage `json:"_aws"`
		}
		if err := json.Unmarshal([]byte(l), &wrapper); err != nil || wrapper.AWS == nil {
			t.Fatalf("a metrics line has no _aws member: %q", l)
		}
		if err := json.Unmarshal(wrapper.AWS, &e.meta); err != nil {
			t.Fatalf("_aws of %q: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}

// find returns the lines of a function that carry a metric.
func (s *emfSink) find(t *testing.T, function, metric string) []emfLine {
	t.Helper()
	var out []emfLine
	for _, l := range s.lines(t) {
		if l.root[metrics.FunctionDimension] == function && l.declares(metric) != nil {
			out = append(out, l)
		}
	}
	return out
}

// declares returns the dimension set and unit under which the line declares
// a metric, nil when it does not.
func (l emfLine) declares(metric string) *struct{ dims, unit string } {
	for _, d := range l.meta.CloudWatchMetrics {
		for _, m := range d.Metrics {
			if m.Name == metric && d.Namespace == metrics.Namespace && len(d.Dimensions) == 1 {
				return &struct{ dims, unit string }{strings.Join(d.Dimensions[0], ","), m.Unit}
			}
		}
	}
	return nil
}

// expectMetric checks one metric of a line: its dimensions, unit and value.
func expectMetric(t *testing.T, l emfLine, metric, dims, unit string, value float64) {
	t.Helper()
	d := l.declares(metric)
	if d == nil {
		t.Errorf("%s not declared in %v", metric, l.root)
		return
	}
	if d.dims != dims || d.unit != unit {
		t.Errorf("%s declared with dimensions %q, unit %q; want %q, %q", metric, d.dims, d.unit, dims, unit)
	}
	for _, name := range strings.Split(dims, ",") {
		if v, ok := l.root[name].(string); !ok || v == "" {
			t.Errorf("%s: dimension %s has no value in %v", metric, name, l.root)
		}
	}
	if got, ok := l.root[metric].(float64); !ok || (value >= 0 && got != value) {
		t.Errorf("%s = %v, want %v", metric, l.root[metric], value)
	}
	if ts := time.UnixMilli(l.meta.Timestamp); time.Since(ts) > time.Minute || time.Until(ts) > time.Second {
		t.Errorf("Timestamp %v is not now", ts)
	}
}

func withMetrics(w *emfSink) envOption {
	return func(c *envConfig) { c.cfg.Metrics = w }
}

// TestMetricsOfATransfer: the EMF lines one transfer produces, as `make run`
// prints them — the transfer function's acceptance, the processor's result
// and its latency, the status function's polls, and a refusal by code.
func TestMetricsOfATransfer(t *testing.T) {
	t.Parallel()
	sink := &emfSink{}
	e := newEnv(t, withMetrics(sink))
	e.startProcessor()
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	p := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour))

	r := e.transfer(tokenHeader(pub), transferBody(cs[1], p.TransactionIDs[0]))
	if r.status != http.StatusAccepted {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	id := r.str("synchronizationId")
	e.waitFinalized(tokenHeader(pub), id)
	if r := e.transfer(tokenHeader(pub), `{"transactionId": 7}`); r.status != http.StatusBadRequest {
		t.Fatalf("bad body: %d %s", r.status, r.raw)
	}

	accepted := sink.find(t, "transfer", telemetry.TransfersAccepted)
	if len(accepted) != 1 {
		t.Fatalf("%d TransfersAccepted lines, want 1", len(accepted))
	}
	expectMetric(t, accepted[0], telemetry.TransfersAccepted, "Function", "Count", 1)
	if accepted[0].root["synchronizationId"] != id || accepted[0].root["requestId"] == "" || accepted[0].root["status"] != 202.0 {
		t.Errorf("accepted line's properties: %v", accepted[0].root)
	}

	var finalized emfLine
	testkit.Eventually(t, "the processor's metrics", 5*time.Second, func() bool {
		f := sink.find(t, "processor", telemetry.Finalized)
		if len(f) == 1 {
			finalized = f[0]
		}
		return len(f) == 1
	})
	expectMetric(t, finalized, telemetry.Finalized, "Function,Result", "Count", 1)
	expectMetric(t, finalized, telemetry.AcceptToFinalized, "Function", "Milliseconds", -1)
	if finalized.root[telemetry.ResultDimension] != string(transfer.ResultTransferred) || finalized.root["synchronizationId"] != id ||
		finalized.root["publisherId"] != float64(pub.id) {
		t.Errorf("finalized line: %v", finalized.root)
	}
	if ms := finalized.root[telemetry.AcceptToFinalized].(float64); ms <= 0 || ms > 20_000 {
		t.Errorf("AcceptToFinalized %v ms", ms)
	}

	polls := sink.find(t, "status", telemetry.StatusPolls)
	if len(polls) == 0 {
		t.Fatal("no StatusPolls line")
	}
	last := polls[len(polls)-1]
	expectMetric(t, last, telemetry.StatusPolls, "Function,Status", "Count", 1)
	if last.root[telemetry.StatusDimension] != string(transfer.StatusFinalized) {
		t.Errorf("last poll's status %v", last.root[telemetry.StatusDimension])
	}

	refused := sink.find(t, "transfer", telemetry.Refused)
	if len(refused) != 1 {
		t.Fatalf("%d Refused lines, want 1", len(refused))
	}
	expectMetric(t, refused[0], telemetry.Refused, "Function,Code", "Count", 1)
	if refused[0].root[telemetry.CodeDimension] != string(transfer.CodeInvalidBody) || refused[0].root["status"] != 400.0 {
		t.Errorf("refusal line: %v", refused[0].root)
	}

	// Nothing else: no retry, no dead letter, no other function.
	for _, l := range sink.lines(t) {
		fn := l.root[metrics.FunctionDimension]
		if !slices.Contains([]any{"transfer", "status", "processor"}, fn) ||
			l.declares(telemetry.ProcessorRetries) != nil || l.declares(telemetry.ProcessorDeadLettered) != nil {
			t.Errorf("unexpected line: %v", l.root)
		}
	}
}

// TestMetricsOfAFailedTransfer: a job whose every attempt fails counts its
// retries, then TRANSFER_FAILED and the dead letter.
func TestMetricsOfAFailedTransfer(t *testing.T) {
	t.Parallel()
	sink := &emfSink{}
	e := newEnv(t, withFastRetries(2), withMetrics(sink))
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	p := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour))
	r := e.transfer(tokenHeader(pub), transferBody(cs[1], p.TransactionIDs[0]))
	if r.status != http.StatusAccepted {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	id := r.str("synchronizationId")
	failing := &failingStore{WorkStore: e.svc.Stores.Work, failFinalize: func(f transfer.Finalization) bool {
		return f.Sync.Result != transfer.ResultTransferFailed
	}}
	meter := e.svc.Meter("processor")
	e.runPoller(queueHandler(telemetry.NewJobs(meter,
		transfer.NewProcessor(failing, transfer.WithMaxReceives(2), transfer.WithNotifier(telemetry.NewFinalizations(meter))), 2)))
	e.waitFinalized(tokenHeader(pub), id)

	testkit.Eventually(t, "the dead letter's metric", 10*time.Second, func() bool {
		return len(sink.find(t, "processor", telemetry.ProcessorDeadLettered)) == 1
	})
	retries := sink.find(t, "processor", telemetry.ProcessorRetries)
	if len(retries) != 1 {
		t.Fatalf("%d ProcessorRetries lines, want 1 (receive 1 of 2)", len(retries))
	}
	expectMetric(t, retries[0], telemetry.ProcessorRetries, "Function", "Count", 1)
	if retries[0].root["receiveCount"] != 1.0 || retries[0].root["synchronizationId"] != id {
		t.Errorf("retry line: %v", retries[0].root)
	}
	failed := sink.find(t, "processor", telemetry.Finalized)
	if len(failed) != 1 || failed[0].root[telemetry.ResultDimension] != string(transfer.ResultTransferFailed) {
		t.Fatalf("finalized lines: %v", failed)
	}
	expectMetric(t, failed[0], telemetry.Finalized, "Function,Result", "Count", 1)
}

// TestMetricsOfWebhooks: every attempt is counted and timed, a success is a
// WebhookDelivered of 1, a delivery given up is a WebhookGivenUp.
func TestMetricsOfWebhooks(t *testing.T) {
	t.Parallel()
	sink := &emfSink{}
	h := newHookEnv(t, hookConfig{schedule: []time.Duration{time.Second, time.Second}, clientErrorAttempts: 2, metrics: sink})
	pub := h.seedPublisher(true, false)
	healing := newReceiver(t, failing(1))
	refusing := newReceiver(t, status(http.StatusBadRequest))
	healingEP, _ := h.subscribe(pub, healing.srv.URL)
	refusingEP, _ := h.subscribe(pub, refusing.srv.URL)

	s := h.finalizedTransfer(pub)
	h.waitDelivery(s, healingEP.ID, 20*time.Second, in(webhook.StateDelivered))
	h.waitDelivery(s, refusingEP.ID, 20*time.Second, in(webhook.StateFailed))
	testkit.Eventually(t, "the give-up's metric", 10*time.Second, func() bool {
		return len(sink.find(t, "webhook", telemetry.WebhookGivenUp)) == 1
	})

	attempts := sink.find(t, "webhook", telemetry.WebhookAttempts)
	if len(attempts) != 4 {
		t.Fatalf("%d attempt lines, want 4 (500 then 204; 400 twice)", len(attempts))
	}
	delivered := 0.0
	for _, l := range attempts {
		expectMetric(t, l, telemetry.WebhookAttempts, "Function", "Count", 1)
		expectMetric(t, l, telemetry.WebhookDelivered, "Function", "Count", -1)
		expectMetric(t, l, telemetry.WebhookAttemptDuration, "Function", "Milliseconds", -1)
		delivered += l.root[telemetry.WebhookDelivered].(float64)
		if l.root["eventId"] != transfer.EventID(s) {
			t.Errorf("attempt line's eventId %v, want %s", l.root["eventId"], transfer.EventID(s))
		}
	}
	if delivered != 1 {
		t.Errorf("WebhookDelivered sums to %v, want 1", delivered)
	}
	gaveUp := sink.find(t, "webhook", telemetry.WebhookGivenUp)[0]
	expectMetric(t, gaveUp, telemetry.WebhookGivenUp, "Function", "Count", 1)
	if gaveUp.root["endpointId"] != refusingEP.ID || gaveUp.root["synchronizationId"] != s.ID || gaveUp.root["lastStatus"] != 400.0 {
		t.Errorf("give-up line: %v", gaveUp.root)
	}
}
