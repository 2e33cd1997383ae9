package memstore

import (
	"context"
	"slices"
	"sync"

	"github.com/acme/purchase-transfer/internal/transfer"
)

var (
	_ transfer.Queue    = (*Queue)(nil)
	_ transfer.Notifier = (*Notifier)(nil)
)

// Queue records the jobs enqueued on it. The zero value is ready to use.
type Queue struct {
	mu    sync.Mutex
	jobs  []transfer.Job
	calls int
	hook  func(ctx context.Context, job transfer.Job) error
}

// SetHook runs hook before each Enqueue; a non-nil error fails the Enqueue,
// whose job is then not recorded.
func (q *Queue) SetHook(hook func(ctx context.Context, job transfer.Job) error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.hook = hook
}

// Enqueue records job, unless the hook fails it.
func (q *Queue) Enqueue(ctx context.Context, job transfer.Job) error {
	q.mu.Lock()
	q.calls++
	hook := q.hook
	q.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, job); err != nil {
			return err
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, job)
	return nil
}

// Jobs are the jobs enqueued so far, in order.
func (q *Queue) Jobs() []transfer.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.jobs)
}

// Calls is how often Enqueue was called, failed calls included.
func (q *Queue) Calls() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls
}

// Notifier records the finalized synchronizations it is told of. The zero
// value is ready to use.
type Notifier struct {
	mu    sync.Mutex
	syncs []transfer.Synchronization
}

// Finalized records s.
func (n *Notifier) Finalized(_ context.Context, s transfer.Synchronization) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.syncs = append(n.syncs, s)
}

// Synchronizations are the notified synchronizations, in order.
func (n *Notifier) Synchronizations() []transfer.Synchronization {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.syncs)
}
