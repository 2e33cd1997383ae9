package transfer

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// DefaultSweepGrace is how long a synchronization may stay unfinished before
// the sweeper hands its job to the queue again. It exceeds a healthy
// transfer's whole life (well under a second) and the gap between two
// retries (the queue's visibility timeout), so only jobs that were lost —
// a crash between the accepting transaction and its SendMessage, or a job
// dead-lettered before it could be finalized — are swept.
const DefaultSweepGrace = 5 * time.Minute

// OpenStore finds and marks synchronizations that are still unfinished.
type OpenStore interface {
	// Stale lists unfinished synchronizations not opened or swept since before.
	Stale(ctx context.Context, before time.Time, limit int) ([]Synchronization, error)
	// Requeued restarts a synchronization's grace period, if it is still unfinished.
	Requeued(ctx context.Context, s Synchronization, at time.Time) error
}

// Sweeper re-enqueues lost jobs, so that nothing stays processing forever:
// a re-enqueued job either completes or, after the queue's receives, is
// finalized TRANSFER_FAILED by the processor.
type Sweeper struct {
	store OpenStore
	queue Queue
	now   func() time.Time
	grace time.Duration
	batch int
}

// NewSweeper wires the sweep rule to its ports.
func NewSweeper(s OpenStore, q Queue, grace time.Duration, opts ...Option) *Sweeper {
	o := buildOptions(opts)
	return &Sweeper{store: s, queue: q, now: o.now, grace: grace, batch: 100}
}

// Sweep re-enqueues every stale synchronization and says how many it did.
func (w *Sweeper) Sweep(ctx context.Context) (int, error) {
	swept := 0
	for {
		now := w.now().UTC()
		stale, err := w.store.Stale(ctx, now.Add(-w.grace), w.batch)
		if err != nil {
			return swept, err
		}
		var errs []error
		for _, s := range stale {
			// The grace restarts before the job is sent: if the send fails the
			// record is simply found again next time, never sent in a loop.
			if err := w.store.Requeued(ctx, s, now); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := w.queue.Enqueue(ctx, JobOf(s)); err != nil {
				errs = append(errs, err)
				continue
			}
			slog.WarnContext(ctx, "re-enqueued a stale synchronization", "synchronizationId", s.ID,
				"publisherId", s.PublisherID, "status", s.Status, "openedAt", s.CreatedAt)
			swept++
		}
		if err := errors.Join(errs...); err != nil {
			return swept, err
		}
		if len(stale) < w.batch {
			return swept, nil
		}
	}
}
