// Package bench measures the service against the budgets of docs/design.md (§Budgets):
// handler CPU in-process (Go benchmarks over fakes, in this package's tests),
// AWS round trips and loopback latency against the real emulators, and the
// memory and cold start of the real bootstraps under the Lambda Runtime
// Interface Emulator. dev/cmd/bench runs the slow parts and writes
// docs/performance.md; `make bench` runs everything. Nothing here runs in
// `make test` except quick checks of the helpers.
package bench

import (
	"context"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// The in-memory ports answer at once and keep nothing, so a benchmark
// measures the HTTP and domain layers alone and its memory stays flat.

// MemDirectory answers every lookup with the same Lookup.
type MemDirectory struct{ Answer transfer.Lookup }

// Lookup implements transfer.Directory.
func (d MemDirectory) Lookup(context.Context, transfer.LookupKeys) (transfer.Lookup, error) {
	return d.Answer, nil
}

// MemStore opens every synchronization and finds Sync under any id.
type MemStore struct{ Sync transfer.Synchronization }

// Open implements transfer.SynchronizationStore.
func (MemStore) Open(context.Context, transfer.Synchronization, time.Time, transfer.Limits) error {
	return nil
}

// Abandon implements transfer.SynchronizationStore.
func (MemStore) Abandon(context.Context, transfer.Synchronization) error { return nil }

// Get implements transfer.SynchronizationStore.
func (s MemStore) Get(_ context.Context, _ transfer.PublisherID, id string) (transfer.Synchronization, bool, error) {
	found := s.Sync
	found.ID = id
	return found, true, nil
}

// MemQueue accepts every job.
type MemQueue struct{}

// Enqueue implements transfer.Queue.
func (MemQueue) Enqueue(context.Context, transfer.Job) error { return nil }
