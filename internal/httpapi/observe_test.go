package httpapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

type recordingObserver struct {
	mu      sync.Mutex
	answers []httpapi.Answer
}

func (o *recordingObserver) Answered(_ context.Context, a httpapi.Answer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answers = append(o.answers, a)
}

func (o *recordingObserver) only(t *testing.T) httpapi.Answer {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.answers) != 1 {
		t.Fatalf("%d answers observed, want 1: %+v", len(o.answers), o.answers)
	}
	a := o.answers[0]
	o.answers = nil
	return a
}

func TestObserverLearnsEveryAnswer(t *testing.T) {
	t.Parallel()
	obs := &recordingObserver{}
	acceptor := &fakeAcceptor{}
	reader := &fakeStatusReader{sync: transfer.Synchronization{Status: transfer.StatusRetrying}}
	h := httpapi.NewHandler(acceptor, reader, &fakeVerifier{}, httpapi.WithObserver(obs))

	serve(h, http.MethodPost, "/purchases/transfers", validBody, tokenHeaders("Correlation-Id", "c-1"))
	if a := obs.only(t); a.Endpoint != httpapi.EndpointTransfer || a.Status != http.StatusAccepted || a.Code != "" ||
		a.SynchronizationID != "c-1" || a.Replayed || a.Duration <= 0 {
		t.Errorf("accepted: %+v", a)
	}

	acceptor.answer = func(transfer.Intake) (transfer.Accepted, error) {
		return transfer.Accepted{Synchronization: transfer.Synchronization{ID: "c-1"}, Replayed: true}, nil
	}
	serve(h, http.MethodPost, "/purchases/transfers", validBody, tokenHeaders("Correlation-Id", "c-1"))
	if a := obs.only(t); !a.Replayed || a.Status != http.StatusAccepted {
		t.Errorf("replayed: %+v", a)
	}

	// Refused before the domain (a header), and by it.
	serve(h, http.MethodPost, "/purchases/transfers", validBody, headers("Content-Type", "application/json", "Authorization", "Bearer bad"))
	if a := obs.only(t); a.Status != http.StatusUnauthorized || a.Code != transfer.CodeUnauthenticated {
		t.Errorf("bad JWT: %+v", a)
	}
	acceptor.answer = func(transfer.Intake) (transfer.Accepted, error) {
		return transfer.Accepted{}, transfer.Refuse(transfer.CodeTransactionLocked, "locked")
	}
	serve(h, http.MethodPost, "/purchases/transfers", validBody, tokenHeaders())
	if a := obs.only(t); a.Status != http.StatusConflict || a.Code != transfer.CodeTransactionLocked {
		t.Errorf("locked: %+v", a)
	}

	serve(h, http.MethodGet, "/purchases/synchronizations/s-9", "", tokenHeaders())
	if a := obs.only(t); a.Endpoint != httpapi.EndpointStatus || a.Status != http.StatusOK || a.SynchronizationID != "s-9" ||
		a.SyncStatus != transfer.StatusRetrying {
		t.Errorf("poll: %+v", a)
	}

	reader.panic = "boom"
	serve(h, http.MethodGet, "/purchases/synchronizations/s-9", "", tokenHeaders())
	if a := obs.only(t); a.Status != http.StatusInternalServerError || a.Code != transfer.CodeInternal {
		t.Errorf("panic: %+v", a)
	}
}

func TestObserverLearnsAppleOutcomes(t *testing.T) {
	t.Parallel()
	obs := &recordingObserver{}
	rcv := &fakeReceiver{}
	h := httpapi.NewAppleNotificationHandler(rcv, httpapi.WithObserver(obs))
	serve(h, http.MethodPost, "/apple/notifications/7", `{"signedPayload":"a.b.c"}`, nil)
	if a := obs.only(t); a.Endpoint != httpapi.EndpointApple || a.Status != http.StatusOK || a.Outcome != appstore.OutcomeApplied {
		t.Errorf("applied: %+v", a)
	}
	rcv.err = transfer.Refuse(transfer.CodeAppleUnverified, "no")
	serve(h, http.MethodPost, "/apple/notifications/7", `{"signedPayload":"a.b.c"}`, nil)
	if a := obs.only(t); a.Code != transfer.CodeAppleUnverified || a.Outcome != "" {
		t.Errorf("unverified: %+v", a)
	}
}
