// Package deadline is the one rule for how long an invocation's work may
// run: until Margin before the invocation's own deadline. Every AWS call of
// a function runs under that context, so that a slow dependency ends in the
// documented answer — 500 S0002 (storage) or S0003 (queue) from an HTTP
// function, a batch item failure from a queue consumer — and never in a
// platform timeout, which the client would see as an undocumented 5xx and
// a consumer as a whole batch failed.
//
// The HTTP functions apply it in one middleware (internal/httpapi), the
// queue consumers in their batch handler (internal/queue), the sweeper
// around its run.
package deadline

import (
	"context"
	"time"
)

// Margin is the time kept at the end of an invocation to answer: to write
// the error response, to report a batch's failures. It is far more than
// that takes; what it must cover is the scheduling of a busy container.
const Margin = 500 * time.Millisecond

// ForWork returns ctx ending Margin before ctx's deadline. In Lambda that
// deadline is the invocation's: the context Lambda passes a handler ends
// when the function's Timeout does. The local runner gives each invocation
// the same deadline from the template's Timeout. A context without a
// deadline (a test calling a handler) is first given one fallback from now,
// as an invocation with that Timeout would have; fallback 0 leaves it
// without one.
//
// When less than Margin is left, the returned context has already ended:
// the work fails at once and there is still time to say so.
func ForWork(ctx context.Context, fallback time.Duration) (context.Context, context.CancelFunc) {
	end, ok := ctx.Deadline()
	if !ok {
		if fallback <= 0 {
			return context.WithCancel(ctx)
		}
		end = time.Now().Add(fallback)
	}
	return context.WithDeadline(ctx, end.Add(-Margin))
}
