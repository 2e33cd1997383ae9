package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// Endpoints, as an Observer is told which one answered.
const (
	EndpointTransfer = "transfer"
	EndpointStatus   = "status"
	EndpointApple    = "apple"
)

// Observer learns how each request was answered, once the answer is written:
// the seam for metrics. It must not block.
type Observer interface {
	Answered(ctx context.Context, a Answer)
}

// Answer is what an Observer learns of one request.
type Answer struct {
	Endpoint string
	Status   int
	// Code is the error code of an error answer, "" for a success.
	Code transfer.Code
	// SynchronizationID is the accepted (or replayed) or polled synchronization.
	SynchronizationID string
	// Replayed marks a transfer answered from an earlier identical request.
	Replayed bool
	// SyncStatus is the status a poll answered.
	SyncStatus transfer.Status
	// Outcome is what an Apple notification did.
	Outcome  appstore.Outcome
	Duration time.Duration
}

// WithObserver tells o how each request was answered.
func WithObserver(o Observer) Option {
	return func(opts *options) { opts.observer = o }
}

type answerKey struct{}

// noted is the answer of the request of ctx as the handlers fill it in; nil
// when nobody observes.
func noted(ctx context.Context) *Answer {
	a, _ := ctx.Value(answerKey{}).(*Answer)
	return a
}

// observing gives the request a note to fill in and a writer that notes the
// status, and returns what tells the observer once the answer is written.
func observing(ctx context.Context, w http.ResponseWriter, endpoint string, o Observer) (context.Context, http.ResponseWriter, func()) {
	if o == nil {
		return ctx, w, func() {}
	}
	a := &Answer{Endpoint: endpoint}
	start := time.Now()
	return context.WithValue(ctx, answerKey{}, a), &statusWriter{ResponseWriter: w, answer: a}, func() {
		if a.Status == 0 {
			a.Status = http.StatusOK // written without WriteHeader
		}
		a.Duration = time.Since(start)
		o.Answered(ctx, *a)
	}
}

// statusWriter notes the status of the answer.
type statusWriter struct {
	http.ResponseWriter
	answer *Answer
}

func (w *statusWriter) WriteHeader(status int) {
	if w.answer.Status == 0 {
		w.answer.Status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.answer.Status == 0 {
		w.answer.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
