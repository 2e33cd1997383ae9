package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/internal/deadline"
)

// timeouts are the template's function Timeouts, by logical id. The runner
// gives each invocation the deadline Lambda would give it; the handlers then
// keep their margin to answer within it (internal/deadline), as in AWS.
type timeouts map[string]time.Duration

func functionTimeouts(s *localaws.Stack) timeouts { return s.FunctionTimeouts() }

// sweepEvery runs a sweeper as the template's schedule does in AWS, each run
// an invocation of the sweeper function (timeout), its work ending the
// margin before.
func sweepEvery(ctx context.Context, every, timeout time.Duration, s sweeper) {
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

func sweepOnce(ctx context.Context, timeout time.Duration, s sweeper) {
	invocationCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	work, done := deadline.ForWork(invocationCtx, 0)
	defer done()
	if _, err := s.Sweep(work); err != nil && ctx.Err() == nil {
		slog.ErrorContext(ctx, "sweep failed", "error", err)
	}
}
