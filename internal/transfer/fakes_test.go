package transfer_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// In-memory fakes of the ports, recording every call so that tests can assert
// what reached "storage" and what did not.

type fakeDirectory struct {
	mu     sync.Mutex
	answer transfer.Lookup
	err    error
	calls  []transfer.LookupKeys
}

func (d *fakeDirectory) Lookup(_ context.Context, keys transfer.LookupKeys) (transfer.Lookup, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, keys)
	return d.answer, d.err
}

type openCall struct {
	sync       transfer.Synchronization
	leaseUntil time.Time
}

type abandonCall struct {
	sync   transfer.Synchronization
	ctxErr error
}

type fakeSyncStore struct {
	mu         sync.Mutex
	openErr    error
	abandonErr error
	opens      []openCall
	abandons   []abandonCall

	getSync  transfer.Synchronization
	getFound bool
	getErr   error
	gets     []getCall
}

type getCall struct {
	publisher transfer.PublisherID
	id        string
}

func (s *fakeSyncStore) Open(_ context.Context, sync transfer.Synchronization, leaseUntil time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens = append(s.opens, openCall{sync: sync, leaseUntil: leaseUntil})
	return s.openErr
}

func (s *fakeSyncStore) Abandon(ctx context.Context, sync transfer.Synchronization) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abandons = append(s.abandons, abandonCall{sync: sync, ctxErr: ctx.Err()})
	return s.abandonErr
}

func (s *fakeSyncStore) Get(_ context.Context, p transfer.PublisherID, id string) (transfer.Synchronization, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets = append(s.gets, getCall{publisher: p, id: id})
	return s.getSync, s.getFound, s.getErr
}

type fakeQueue struct {
	mu   sync.Mutex
	err  error
	jobs []transfer.Job
	// onEnqueue, when set, runs before the answer (e.g. to cancel the request context).
	onEnqueue func()
}

func (q *fakeQueue) Enqueue(_ context.Context, job transfer.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.onEnqueue != nil {
		q.onEnqueue()
	}
	q.jobs = append(q.jobs, job)
	return q.err
}

type markCall struct {
	job      transfer.Job
	attempts int
	at       time.Time
}

// fakeWorkStore answers Load and Finalize from scripts: the i-th call gets the
// i-th entry (the last one repeats).
type fakeWorkStore struct {
	mu        sync.Mutex
	loads     []loadAnswer
	finalizes []error
	markErr   error

	loadCalls     int
	finalizeCalls []transfer.Finalization
	marks         []markCall
}

type loadAnswer struct {
	snap transfer.Snapshot
	err  error
}

func (w *fakeWorkStore) Load(_ context.Context, _ transfer.Job) (transfer.Snapshot, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.loads) == 0 {
		return transfer.Snapshot{}, errors.New("fake: no load scripted")
	}
	a := w.loads[min(w.loadCalls, len(w.loads)-1)]
	w.loadCalls++
	return a.snap, a.err
}

func (w *fakeWorkStore) Finalize(_ context.Context, f transfer.Finalization) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := len(w.finalizeCalls)
	w.finalizeCalls = append(w.finalizeCalls, f)
	if len(w.finalizes) == 0 {
		return nil
	}
	return w.finalizes[min(i, len(w.finalizes)-1)]
}

func (w *fakeWorkStore) MarkRetrying(_ context.Context, job transfer.Job, attempts int, at time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.marks = append(w.marks, markCall{job: job, attempts: attempts, at: at})
	return w.markErr
}

type fakeNotifier struct {
	mu    sync.Mutex
	syncs []transfer.Synchronization
}

func (n *fakeNotifier) Finalized(_ context.Context, s transfer.Synchronization) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.syncs = append(n.syncs, s)
}
