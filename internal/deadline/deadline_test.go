package deadline_test

import (
	"context"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/deadline"
)

func TestForWorkEndsAMarginBeforeTheInvocation(t *testing.T) {
	invocationEnd := time.Now().Add(10 * time.Second)
	invocation, cancel := context.WithDeadline(context.Background(), invocationEnd)
	defer cancel()
	work, done := deadline.ForWork(invocation, time.Hour) // the fallback does not apply
	defer done()
	got, ok := work.Deadline()
	if !ok || !got.Equal(invocationEnd.Add(-deadline.Margin)) {
		t.Errorf("work deadline = %v, %v; want %v", got, ok, invocationEnd.Add(-deadline.Margin))
	}
	if deadline.Margin != 500*time.Millisecond {
		t.Errorf("Margin = %v; docs/design.md says 500 ms", deadline.Margin)
	}
}

func TestForWorkWithoutAnInvocationDeadline(t *testing.T) {
	before := time.Now()
	work, done := deadline.ForWork(context.Background(), 10*time.Second)
	defer done()
	got, ok := work.Deadline()
	after := time.Now()
	if !ok || got.Before(before.Add(10*time.Second-deadline.Margin)) || got.After(after.Add(10*time.Second-deadline.Margin)) {
		t.Errorf("work deadline = %v, %v; want 9.5 s from now", got, ok)
	}

	unbounded, done2 := deadline.ForWork(context.Background(), 0)
	defer done2()
	if d, ok := unbounded.Deadline(); ok {
		t.Errorf("fallback 0 gave a deadline: %v", d)
	}
	done2()
	if unbounded.Err() == nil {
		t.Error("the cancel function does not end the context")
	}
}

func TestForWorkWithLessThanTheMarginLeft(t *testing.T) {
	invocation, cancel := context.WithTimeout(context.Background(), deadline.Margin/2)
	defer cancel()
	work, done := deadline.ForWork(invocation, 0)
	defer done()
	if work.Err() == nil {
		t.Error("with less than the margin left, the work may still start")
	}
}
