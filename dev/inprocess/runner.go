package inprocess

import (
	"context"
	"log/slog"
	"time"

	"github.com/acme/purchase-transfer/dev/samtemplate"
	"github.com/acme/purchase-transfer/internal/deadline"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/telemetry"
)

// What a local runner (dev/cmd/local, dev/cmd/soak) does in place of Lambda
// beside the API: the sweeper's schedule, and as many queue pollers as the
// event source mapping allows.

// SweepEvery runs a sweeper as the template's schedule does in AWS, each run
// an invocation of the sweeper function (timeout), its work ending the
// margin before.
func SweepEvery(ctx context.Context, every, timeout time.Duration, s telemetry.Sweeper) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sweepOnce(ctx, timeout, s)
		}
	}
}

func sweepOnce(ctx context.Context, timeout time.Duration, s telemetry.Sweeper) {
	invocationCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	work, done := deadline.ForWork(invocationCtx, 0)
	defer done()
	if _, err := s.Sweep(work); err != nil && ctx.Err() == nil {
		slog.ErrorContext(ctx, "sweep failed", "error", err)
	}
}

// DefaultMaximumConcurrency is how many batches of a queue a local runner
// handles at once when the template's event source mapping sets no
// ScalingConfig.MaximumConcurrency: 2, the least Lambda allows there.
const DefaultMaximumConcurrency = 2

// QueueConcurrency is how many batches of a queue Lambda's event source
// mapping hands its function at once (its MaximumConcurrency), which a local
// runner matches with as many pollers; DefaultMaximumConcurrency when the
// template sets none.
func QueueConcurrency(tpl *samtemplate.Template, queueID string) int {
	if e, ok := tpl.QueueConsumer(queueID); ok && e.MaximumConcurrency > 0 {
		return e.MaximumConcurrency
	}
	return DefaultMaximumConcurrency
}

// Pollers are N queue.Pollers of one queue, each handing its batches to the
// same handler, so that N batches are handled at once as Lambda's event
// source mapping runs N invocations; one stuck batch holds up one poller.
type Pollers struct {
	Poller queue.Poller // the template of each
	N      int
}

// Run runs the pollers until ctx is done.
func (p Pollers) Run(ctx context.Context) {
	done := make(chan struct{}, max(p.N, 1))
	for range max(p.N, 1) {
		poller := p.Poller
		go func() {
			defer func() { done <- struct{}{} }()
			_ = poller.Run(ctx)
		}()
	}
	for range max(p.N, 1) {
		<-done
	}
}
