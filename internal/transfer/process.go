package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// staleRetries bounds how often one delivery re-reads after a concurrent
// change before it gives the job back to the queue.
const staleRetries = 3

// Processor decides the result of a job and applies it all or nothing. Every
// delivery of a job, however late or repeated, converges on one outcome.
type Processor struct {
	store       WorkStore
	notifier    Notifier
	apple       AppleCheck
	now         func() time.Time
	maxReceives int
}

// NewProcessor wires the processing rules to their ports.
func NewProcessor(s WorkStore, opts ...Option) *Processor {
	o := buildOptions(opts)
	return &Processor{store: s, notifier: o.notifiers, apple: o.apple, now: o.now, maxReceives: o.maxReceives}
}

// Handle processes one delivery of a job. receiveCount is the queue's count of
// deliveries of this message. A nil error means the message may be deleted;
// an error means it must be delivered again (or, past the last receive,
// dead-lettered, after the synchronization was finalized TRANSFER_FAILED).
func (p *Processor) Handle(ctx context.Context, job Job, receiveCount int) error {
	err := p.process(ctx, job)
	if err == nil {
		return nil
	}
	log := slog.With("synchronizationId", job.SynchronizationID, "publisherId", job.PublisherID, "receiveCount", receiveCount)
	if receiveCount >= p.maxReceives {
		log.ErrorContext(ctx, "transfer failed on its last delivery; finalizing TRANSFER_FAILED", "error", err)
		if gErr := p.giveUp(ctx, job); gErr != nil {
			log.ErrorContext(ctx, "could not finalize TRANSFER_FAILED; the message goes to the dead-letter queue unfinalized", "error", gErr)
		}
		return err
	}
	log.WarnContext(ctx, "transfer attempt failed; it will be retried", "error", err)
	if mErr := p.store.MarkRetrying(ctx, job, receiveCount, p.now().UTC()); mErr != nil {
		log.WarnContext(ctx, "could not mark the synchronization retrying", "error", mErr)
	}
	return err
}

func (p *Processor) process(ctx context.Context, job Job) error {
	asked := false
	for range staleRetries {
		snap, err := p.store.Load(ctx, job)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		if done(ctx, job, snap) {
			return nil
		}
		if !asked && mustAskApple(snap) {
			// Once per delivery: what Apple said is then stored, and a
			// concurrent change found by Finalize is a local one.
			asked = true
			changed, err := p.askApple(ctx, *snap.Purchase)
			if err != nil {
				return err
			}
			if changed {
				continue
			}
		}
		fin := Decide(snap, p.now().UTC())
		err = p.store.Finalize(ctx, fin)
		switch {
		case errors.Is(err, ErrAlreadyFinalized):
			return nil
		case errors.Is(err, ErrStale):
			continue
		case err != nil:
			return fmt.Errorf("finalize: %w", err)
		}
		slog.InfoContext(ctx, "synchronization finalized", "synchronizationId", fin.Sync.ID,
			"publisherId", fin.Sync.PublisherID, "result", fin.Sync.Result)
		p.notifier.Finalized(ctx, fin.Sync)
		return nil
	}
	return errors.New("purchase kept changing while deciding; retrying later")
}

// mustAskApple tells whether the decision waits for Apple's word: the
// publisher asked for it as the transfer was accepted, and there is an owned
// purchase whose state decides (an unknown or unowned one is NOT_FOUND
// whatever Apple says).
func mustAskApple(snap Snapshot) bool {
	return snap.Sync.VerifyWithApple && snap.Purchase != nil && snap.Purchase.Owned()
}

func (p *Processor) askApple(ctx context.Context, purchase Purchase) (bool, error) {
	if p.apple == nil {
		// A deployment that cannot reach Apple must not decide as if it had.
		return false, errors.New("ask Apple: this processor has no App Store Server API access configured")
	}
	changed, err := p.apple.Refresh(ctx, purchase)
	if err != nil {
		return false, fmt.Errorf("ask Apple: %w", err)
	}
	return changed, nil
}

// giveUp finalizes TRANSFER_FAILED: nothing of the purchase changes, the locks
// this synchronization still holds are released.
func (p *Processor) giveUp(ctx context.Context, job Job) error {
	snap, err := p.store.Load(ctx, job)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if done(ctx, job, snap) {
		return nil
	}
	fin := failed(snap, p.now().UTC())
	switch err := p.store.Finalize(ctx, fin); {
	case errors.Is(err, ErrAlreadyFinalized):
		// Another delivery committed a result first; that one is announced.
		return nil
	case err != nil:
		return fmt.Errorf("finalize: %w", err)
	}
	p.notifier.Finalized(ctx, fin.Sync)
	return nil
}

// done tells whether a delivery has nothing left to do.
func done(ctx context.Context, job Job, snap Snapshot) bool {
	if snap.Sync == nil {
		// Rolled back after a failed enqueue whose message got through anyway,
		// or expired: there is nothing to apply.
		slog.WarnContext(ctx, "job names no synchronization; dropping it",
			"synchronizationId", job.SynchronizationID, "publisherId", job.PublisherID)
		return true
	}
	return snap.Sync.Status == StatusFinalized
}

// Decide turns a snapshot into the result of docs/contract.md §3.
func Decide(snap Snapshot, now time.Time) Finalization {
	fin := Finalization{Sync: finalized(*snap.Sync, now), ReleaseLocks: snap.HeldLocks, EventID: EventID(*snap.Sync)}
	p := snap.Purchase
	if p == nil {
		fin.Sync.Result = ResultNotFound
		return fin
	}
	version := p.Version
	fin.ReadVersion = &version
	fin.Sync.OriginalTransactionID = p.OriginalTransactionID
	switch {
	case !p.Owned():
		// Known from Apple but claimed by nobody yet: as good as unknown
		// until an operator assigns it.
		fin.Sync.Result = ResultNotFound
	case !p.ActiveAt(now):
		fin.Sync.Result = ResultExpired
	case p.Owner == fin.Sync.Target:
		fin.Sync.Result = ResultUnchanged
		fin.Sync.OfferID = p.OfferID
	default:
		fin.Sync.Result = ResultTransferred
		fin.Sync.OfferID = p.OfferID
		fin.Sync.PreviousOwner = p.Owner
		fin.Change = &OwnershipChange{From: p.Owner, To: fin.Sync.Target, FromVersion: p.Version}
	}
	return fin
}

func failed(snap Snapshot, now time.Time) Finalization {
	fin := Finalization{Sync: finalized(*snap.Sync, now), ReleaseLocks: snap.HeldLocks, EventID: EventID(*snap.Sync)}
	fin.Sync.Result = ResultTransferFailed
	return fin
}

func finalized(s Synchronization, now time.Time) Synchronization {
	s.Status = StatusFinalized
	s.UpdatedAt = now
	s.FinalizedAt = now
	return s
}

// EventID is the id of a synchronization's finalization event, derived from
// the record so that every delivery of a job computes the same one. The
// creation time keeps it unique should an expired Correlation-Id be reused.
func EventID(s Synchronization) string {
	sum := sha256.Sum256([]byte(strconv.FormatInt(int64(s.PublisherID), 10) + "\x00" + s.ID + "\x00" +
		strconv.FormatInt(s.CreatedAt.UnixNano(), 10)))
	return "evt_" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16])
}
