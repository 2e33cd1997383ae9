package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/metrics"
	"github.com/acme/purchase-transfer/internal/telemetry"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

// sink decodes what an emitter wrote: one map per line.
type sink struct{ bytes.Buffer }

func (s *sink) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.SplitSeq(strings.TrimSuffix(s.String(), "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, m)
	}
	s.Reset()
	return out
}

func one(t *testing.T, s *sink) map[string]any {
	t.Helper()
	ls := s.lines(t)
	if len(ls) != 1 {
		t.Fatalf("%d lines, want 1: %v", len(ls), ls)
	}
	return ls[0]
}

func TestAPIAnswers(t *testing.T) {
	var out sink
	api := telemetry.NewAPI(metrics.New(&out, "fn"))
	ctx := context.Background()
	tests := []struct {
		ans        httpapi.Answer
		metric     string
		dim, value string
	}{
		{httpapi.Answer{Endpoint: httpapi.EndpointTransfer, Status: 202, SynchronizationID: "s"}, telemetry.TransfersAccepted, "", ""},
		{httpapi.Answer{Endpoint: httpapi.EndpointTransfer, Status: 202, Replayed: true}, telemetry.TransfersReplayed, "", ""},
		{httpapi.Answer{Endpoint: httpapi.EndpointTransfer, Status: 409, Code: transfer.CodeTransactionLocked}, telemetry.Refused, telemetry.CodeDimension, "SK2C0103"},
		{httpapi.Answer{Endpoint: httpapi.EndpointTransfer, Status: 500, Code: transfer.CodeStorageFailure}, telemetry.Refused, telemetry.CodeDimension, "S0002"},
		{httpapi.Answer{Endpoint: httpapi.EndpointStatus, Status: 200, SyncStatus: transfer.StatusProcessing}, telemetry.StatusPolls, telemetry.StatusDimension, "processing"},
		{httpapi.Answer{Endpoint: httpapi.EndpointApple, Status: 200, Outcome: appstore.OutcomeDuplicate}, telemetry.AppleNotifications, telemetry.OutcomeDimension, "duplicate"},
	}
	for _, tc := range tests {
		api.Answered(ctx, tc.ans)
		l := one(t, &out)
		if l[tc.metric] != 1.0 || l["Function"] != "fn" || l["status"] != float64(tc.ans.Status) {
			t.Errorf("%+v: line %v, want %s = 1", tc.ans, l, tc.metric)
		}
		if tc.dim != "" && l[tc.dim] != tc.value {
			t.Errorf("%+v: %s = %v, want %s", tc.ans, tc.dim, l[tc.dim], tc.value)
		}
	}
	// Go's plain 404 of an unknown route is not counted.
	api.Answered(ctx, httpapi.Answer{Endpoint: httpapi.EndpointStatus, Status: http.StatusNotFound})
	if ls := out.lines(t); len(ls) != 0 {
		t.Errorf("unknown route counted: %v", ls)
	}
}

func TestFinalizationsTimeFromAcceptance(t *testing.T) {
	var out sink
	f := telemetry.NewFinalizations(metrics.New(&out, "processor"))
	created := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	f.Finalized(context.Background(), transfer.Synchronization{PublisherID: 7, ID: "s", Result: transfer.ResultExpired,
		CreatedAt: created, FinalizedAt: created.Add(1234567 * time.Microsecond)})
	l := one(t, &out)
	if l[telemetry.Finalized] != 1.0 || l[telemetry.ResultDimension] != "RECEIVED_EXPIRED_PURCHASE" ||
		l[telemetry.AcceptToFinalized] != 1234.567 || l["publisherId"] != 7.0 || l["synchronizationId"] != "s" {
		t.Errorf("line %v", l)
	}
}

type jobHandler struct{ err error }

func (h jobHandler) Handle(context.Context, transfer.Job, int) error { return h.err }

func TestJobsCountFailedDeliveries(t *testing.T) {
	var out sink
	m := metrics.New(&out, "processor")
	job := transfer.Job{PublisherID: 7, SynchronizationID: "s"}
	if err := telemetry.NewJobs(m, jobHandler{}, 3).Handle(context.Background(), job, 1); err != nil {
		t.Fatal(err)
	}
	if ls := out.lines(t); len(ls) != 0 {
		t.Errorf("a success counted: %v", ls)
	}
	failing := telemetry.NewJobs(m, jobHandler{err: errors.New("boom")}, 3)
	for receive, want := range map[int]string{2: telemetry.ProcessorRetries, 3: telemetry.ProcessorDeadLettered} {
		if err := failing.Handle(context.Background(), job, receive); err == nil {
			t.Fatal("the error was swallowed")
		}
		if l := one(t, &out); l[want] != 1.0 || l["receiveCount"] != float64(receive) {
			t.Errorf("receive %d: %v, want %s", receive, l, want)
		}
	}
}

type sender struct{ answer webhook.Answer }

func (s sender) Send(context.Context, string, string, time.Time, []byte, [][]byte) webhook.Answer {
	return s.answer
}

type parker struct{ err error }

func (p parker) Park(context.Context, webhook.Delivery) error { return p.err }

func TestWebhookAttemptsAndGiveUps(t *testing.T) {
	var out sink
	m := metrics.New(&out, "webhook")
	for status, delivered := range map[int]float64{204: 1, 503: 0} {
		telemetry.NewAttempts(m, sender{webhook.Answer{Status: status}}).Send(context.Background(), "u", "evt_1", time.Now(), nil, nil)
		l := one(t, &out)
		if l[telemetry.WebhookAttempts] != 1.0 || l[telemetry.WebhookDelivered] != delivered || l["eventId"] != "evt_1" {
			t.Errorf("%d: %v", status, l)
		}
		if _, ok := l[telemetry.WebhookAttemptDuration].(float64); !ok {
			t.Errorf("%d: no duration in %v", status, l)
		}
	}
	d := webhook.Delivery{DeliveryKey: webhook.DeliveryKey{PublisherID: 7, SynchronizationID: "s", EndpointID: "ep"}, Attempts: 3, LastStatus: 400}
	if err := telemetry.NewGiveUps(m, parker{}).Park(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if l := one(t, &out); l[telemetry.WebhookGivenUp] != 1.0 || l["endpointId"] != "ep" || l["attempts"] != 3.0 {
		t.Errorf("give-up: %v", l)
	}
	// A parking that failed is no give-up yet: the message comes back.
	if err := telemetry.NewGiveUps(m, parker{err: errors.New("sqs")}).Park(context.Background(), d); err == nil {
		t.Fatal("the error was swallowed")
	}
	if ls := out.lines(t); len(ls) != 0 {
		t.Errorf("a failed parking counted: %v", ls)
	}
}

type sweep struct{ n int }

func (s sweep) Sweep(context.Context) (int, error) { return s.n, nil }

func TestSweepsWriteEveryRun(t *testing.T) {
	var out sink
	m := metrics.New(&out, "sweeper")
	for _, n := range []int{0, 3} {
		if _, err := telemetry.NewRequeues(m, sweep{n}).Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if l := one(t, &out); l[telemetry.SweeperRequeued] != float64(n) {
			t.Errorf("requeued %d: %v", n, l)
		}
	}
	if _, err := telemetry.NewRedispatches(m, sweep{2}).Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l := one(t, &out); l[telemetry.SweeperRedispatched] != 2.0 {
		t.Errorf("redispatched: %v", l)
	}
}
