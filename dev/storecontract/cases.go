package storecontract

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Directory

func testLookupUnknownPublisher(t *testing.T, w *world) {
	got, err := w.Directory.Lookup(w.ctx, transfer.LookupKeys{Publisher: w.p + 1, TokenHash: w.hash, TransactionID: "tx-unknown"})
	w.must(err)
	if got.Publisher != nil || got.TokenValid || got.OriginalTransactionID != "" {
		t.Errorf("unknown publisher, its token and an unknown transaction: %+v, want nothing", got)
	}
}

func testLookupPublisher(t *testing.T, w *world) {
	want := transfer.Publisher{ID: w.p, Name: "migrating", StoreKit2Active: false, MigrationInProgress: true}
	w.must(w.Seed.PutPublisher(w.ctx, want))
	got, err := w.Directory.Lookup(w.ctx, transfer.LookupKeys{Publisher: w.p})
	w.must(err)
	if got.Publisher == nil || *got.Publisher != want {
		t.Errorf("publisher = %+v, want %+v", got.Publisher, want)
	}
	if got.TokenValid || got.OriginalTransactionID != "" {
		t.Errorf("nothing else was asked: %+v", got)
	}
}

func testLookupTokens(t *testing.T, w *world) {
	w.must(w.Seed.PutToken(w.ctx, w.p, "revoked-"+w.hash, "old"))
	w.must(w.Seed.RevokeToken(w.ctx, w.p, "revoked-"+w.hash))
	if err := w.Seed.RevokeToken(w.ctx, w.p, "never-"+w.hash); err == nil {
		t.Error("revoking an unknown token succeeded")
	}
	other := transfer.PublisherID(newID())
	w.must(w.Seed.PutPublisher(w.ctx, transfer.Publisher{ID: other, StoreKit2Active: true}))
	for _, tc := range []struct {
		name string
		p    transfer.PublisherID
		hash string
		want bool
	}{
		{"live", w.p, w.hash, true},
		{"revoked", w.p, "revoked-" + w.hash, false},
		{"unknown", w.p, "never-" + w.hash, false},
		{"another publisher's", other, w.hash, false},
	} {
		got, err := w.Directory.Lookup(w.ctx, transfer.LookupKeys{Publisher: tc.p, TokenHash: tc.hash})
		w.must(err)
		if got.TokenValid != tc.want {
			t.Errorf("%s token: TokenValid = %v, want %v", tc.name, got.TokenValid, tc.want)
		}
		if got.Publisher == nil || got.Publisher.ID != tc.p {
			t.Errorf("%s token: publisher = %+v", tc.name, got.Publisher)
		}
	}
	got, err := w.Directory.Lookup(w.ctx, transfer.LookupKeys{Publisher: w.p})
	w.must(err)
	if got.TokenValid {
		t.Error("TokenValid without a token asked for")
	}
}

func testLookupChains(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	for _, tc := range []struct{ name, tx, want string }{
		{"a member transaction", w.tx, otx},
		{"the originalTransactionId itself", otx, otx},
		{"an unknown transaction", "tx-unknown-" + otx, ""},
	} {
		got, err := w.Directory.Lookup(w.ctx, transfer.LookupKeys{Publisher: w.p, TransactionID: tc.tx})
		w.must(err)
		if got.OriginalTransactionID != tc.want {
			t.Errorf("%s: chain %q, want %q", tc.name, got.OriginalTransactionID, tc.want)
		}
	}
	got, err := w.Directory.Lookup(w.ctx, transfer.LookupKeys{Publisher: w.p + 1, TransactionID: w.tx})
	w.must(err)
	if got.OriginalTransactionID != "" {
		t.Errorf("another publisher's transaction resolved to %q", got.OriginalTransactionID)
	}
}

// Open, Get, Abandon

func testOpenWrites(t *testing.T, w *world) {
	s := w.newSync(w.tx, w.purchase.OriginalTransactionID, w.b)
	s.CorrelationID = s.ID
	w.mustOpen(s, future())
	got, ok := w.get(s.ID)
	if !ok {
		t.Fatal("the opened record is not found")
	}
	sameSync(t, "stored record", got, s)
	heldLocks(t, "after Open", w.load(s), w.txLock(w.tx), w.chainLock(w.purchase.OriginalTransactionID))
	if _, ok := w.get("sync-unknown"); ok {
		t.Error("an unknown id is found")
	}
}

func testOpenWithoutChain(t *testing.T, w *world) {
	s := w.newSync(w.tx, "", w.b)
	w.mustOpen(s, future())
	heldLocks(t, "after Open", w.load(s), w.txLock(w.tx))
	// The chain is free: another transaction of it may be opened.
	w.mustOpen(w.newSync(w.purchase.OriginalTransactionID, w.purchase.OriginalTransactionID, w.a), future())
}

func testOpenCustomerMissing(t *testing.T, w *world) {
	s := w.newSync(w.tx, w.purchase.OriginalTransactionID, transfer.CustomerID(newID()))
	c := w.conflict(s)
	if *c != (transfer.OpenConflict{CustomerMissing: true}) {
		t.Errorf("conflict = %+v, want CustomerMissing only", *c)
	}
	if _, ok := w.get(s.ID); ok {
		t.Error("a refused Open left its record")
	}
	// Nor its locks.
	w.mustOpen(w.newSync(w.tx, w.purchase.OriginalTransactionID, w.b), future())
}

func testOpenTransactionLocked(t *testing.T, w *world) {
	first := w.newSync(w.tx, "", w.b)
	w.mustOpen(first, future())
	second := w.newSync(w.tx, "", w.a)
	c := w.conflict(second)
	if *c != (transfer.OpenConflict{TransactionLocked: true}) {
		t.Errorf("conflict = %+v, want TransactionLocked only", *c)
	}
	if _, ok := w.get(second.ID); ok {
		t.Error("a refused Open left its record")
	}
	heldLocks(t, "first, after the refusal", w.load(first), w.txLock(w.tx))
}

func testOpenPurchaseLocked(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	first := w.open()
	second := w.newSync(otx, otx, w.a)
	c := w.conflict(second)
	if *c != (transfer.OpenConflict{PurchaseLocked: true}) {
		t.Errorf("conflict = %+v, want PurchaseLocked only", *c)
	}
	if _, ok := w.get(second.ID); ok {
		t.Error("a refused Open left its record")
	}
	// The refused Open took no transaction lock either.
	w.mustOpen(w.newSync(otx, "", w.a), future())
	heldLocks(t, "first", w.load(first), w.txLock(w.tx), w.chainLock(otx))
}

func testOpenExisting(t *testing.T, w *world) {
	first := w.newSync("tx-own-"+w.hash, "", w.b)
	first.CorrelationID = first.ID
	w.mustOpen(first, future())
	// The same id for another transaction and another body.
	again := w.newSync("tx-other-"+w.hash, "", w.a)
	again.ID, again.CorrelationID = first.ID, first.ID
	c := w.conflict(again)
	if c.Existing == nil {
		t.Fatalf("conflict = %+v, want Existing", *c)
	}
	sameSync(t, "Existing", *c.Existing, first)
	if c.TransactionLocked || c.PurchaseLocked || c.CustomerMissing {
		t.Errorf("conflict = %+v, want Existing only", *c)
	}
	got, _ := w.get(first.ID)
	sameSync(t, "the record after the refusal", got, first)
	// A replay: the same request again also meets its own lock.
	c = w.conflict(first)
	if c.Existing == nil || c.Existing.RequestHash != first.RequestHash || !c.TransactionLocked {
		t.Errorf("replay conflict = %+v, want Existing and TransactionLocked", *c)
	}
}

func testOpenAllConflicts(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	first := w.open()
	again := w.newSync(w.tx, otx, transfer.CustomerID(newID()))
	again.ID = first.ID
	c := w.conflict(again)
	if !c.CustomerMissing || !c.TransactionLocked || !c.PurchaseLocked || c.Existing == nil || c.Existing.ID != first.ID {
		t.Errorf("conflict = %+v, want every flag and Existing", *c)
	}
}

func testOpenTakeOver(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	orphan := w.newSync(w.tx, otx, w.b)
	w.mustOpen(orphan, past())
	// A lease still running blocks; one run out is taken over.
	live := w.newSync("tx-live-"+w.hash, "", w.b)
	w.mustOpen(live, future())
	if c := w.conflict(w.newSync(live.TransactionID, "", w.a)); !c.TransactionLocked {
		t.Errorf("a live lease was not respected: %+v", *c)
	}
	heir := w.newSync(w.tx, otx, w.a)
	w.mustOpen(heir, future())
	heldLocks(t, "heir", w.load(heir), w.txLock(w.tx), w.chainLock(otx))
	heldLocks(t, "orphan", w.load(orphan))
	if _, ok := w.get(orphan.ID); !ok {
		t.Error("taking over the locks removed the orphan's record")
	}
}

func testGetOtherPublisher(t *testing.T, w *world) {
	s := w.open()
	if _, ok, err := w.Sync.Get(w.ctx, w.p+1, s.ID); err != nil || ok {
		t.Errorf("another publisher's Get = found %v, err %v; want not found", ok, err)
	}
}

func testAbandon(t *testing.T, w *world) {
	s := w.open()
	w.must(w.Sync.Abandon(w.ctx, s))
	if _, ok := w.get(s.ID); ok {
		t.Error("the abandoned record is still there")
	}
	// Its locks are free: the same transaction opens at once.
	w.mustOpen(w.newSync(w.tx, w.purchase.OriginalTransactionID, w.a), future())
}

func testAbandonSparesOthers(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	orphan := w.newSync(w.tx, otx, w.b)
	w.mustOpen(orphan, past())
	heir := w.newSync(w.tx, otx, w.a)
	w.mustOpen(heir, future())
	if err := w.Sync.Abandon(w.ctx, orphan); err == nil {
		t.Error("Abandon of a synchronization whose locks were taken over succeeded")
	}
	heldLocks(t, "heir, after the orphan's Abandon", w.load(heir), w.txLock(w.tx), w.chainLock(otx))
	if _, ok := w.get(heir.ID); !ok {
		t.Error("the heir's record is gone")
	}
	// Another request's body under the heir's id removes nothing either.
	impostor := heir
	impostor.RequestHash = "other"
	if err := w.Sync.Abandon(w.ctx, impostor); err == nil {
		t.Error("Abandon with another request hash succeeded")
	}
	heldLocks(t, "heir, after the impostor's Abandon", w.load(heir), w.txLock(w.tx), w.chainLock(otx))
}

func testAbandonFinalized(t *testing.T, w *world) {
	s := w.open()
	w.must(w.Work.Finalize(w.ctx, w.decide(s)))
	if err := w.Sync.Abandon(w.ctx, s); err == nil {
		t.Error("Abandon of a finalized synchronization succeeded")
	}
	if got, ok := w.get(s.ID); !ok || got.Status != transfer.StatusFinalized {
		t.Errorf("after Abandon: found %v, %+v; want the finalized record", ok, got)
	}
}

// Load, Finalize, MarkRetrying

func testLoadUnknown(t *testing.T, w *world) {
	s := w.open()
	job := transfer.JobOf(s)
	job.SynchronizationID = "sync-unknown"
	snap, err := w.Work.Load(w.ctx, job)
	w.must(err)
	if snap.Sync != nil || len(snap.HeldLocks) != 0 {
		t.Errorf("snapshot of an unknown synchronization = %+v, want no record, no locks", snap)
	}
}

func testLoadResolvesChain(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	for _, tc := range []struct {
		name, tx, want string
		purchase       bool
	}{
		{"member transaction", w.tx, otx, true},
		{"originalTransactionId", otx, otx, true},
		{"unknown transaction", "tx-unknown-" + w.hash, "", false},
	} {
		s := w.newSync(tc.tx, "", w.b)
		w.mustOpen(s, future())
		snap := w.load(s)
		if snap.Sync == nil {
			t.Fatalf("%s: no record", tc.name)
		}
		sameSync(t, tc.name+": record", *snap.Sync, s)
		if snap.OriginalTransactionID != tc.want {
			t.Errorf("%s: chain %q, want %q", tc.name, snap.OriginalTransactionID, tc.want)
		}
		if tc.purchase {
			if snap.Purchase == nil || !reflect.DeepEqual(*snap.Purchase, w.purchase) {
				t.Errorf("%s: purchase %+v, want %+v", tc.name, snap.Purchase, w.purchase)
			}
		} else if snap.Purchase != nil {
			t.Errorf("%s: purchase %+v, want none", tc.name, snap.Purchase)
		}
		// Without the chain at accept time only the transaction lock is held.
		heldLocks(t, tc.name, snap, w.txLock(tc.tx))
		w.must(w.Sync.Abandon(w.ctx, s))
	}
}

// testLoadHintOnlyPrefetches: a job's hint (the transactionId and chain it
// carries) never changes what Load returns: with the record's own hint, none,
// or one naming another purchase, its chain, or a malformed id, the snapshot
// is the one the stored record names, with that record's locks.
func testLoadHintOnlyPrefetches(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	other := w.newPurchase(w.a)
	// The other chain is held by another synchronization: its locks exist.
	w.mustOpen(w.newSync(other.TransactionIDs[1], other.OriginalTransactionID, w.b), future())
	hints := []struct{ name, tx, otx string }{
		{"another purchase", other.TransactionIDs[1], other.OriginalTransactionID},
		{"another chain", w.tx, other.OriginalTransactionID},
		{"the chain unknown", w.tx, ""},
		{"the chain where there is none", w.tx, otx},
		{"another transaction", other.TransactionIDs[0], ""},
		{"malformed", "tx#SYNC#x", "otx#" + otx},
		{"none", "", ""},
	}
	for _, rec := range []struct {
		name, chain string
		locks       []transfer.LockKey
	}{
		{"chain known at accept", otx, []transfer.LockKey{w.txLock(w.tx), w.chainLock(otx)}},
		{"chain unknown at accept", "", []transfer.LockKey{w.txLock(w.tx)}},
	} {
		s := w.newSync(w.tx, rec.chain, w.b)
		w.mustOpen(s, future())
		jobs := map[string]transfer.Job{"the record's own": transfer.JobOf(s)}
		for _, h := range hints {
			job := transfer.JobOf(s)
			job.HintTransactionID, job.HintOriginalTransactionID = h.tx, h.otx
			if job != transfer.JobOf(s) {
				jobs[h.name] = job
			}
		}
		for name, job := range jobs {
			what := rec.name + ", hint " + name
			snap, err := w.Work.Load(w.ctx, job)
			w.must(err)
			if snap.Sync == nil {
				t.Fatalf("%s: no record", what)
			}
			sameSync(t, what+": record", *snap.Sync, s)
			if snap.OriginalTransactionID != otx {
				t.Errorf("%s: chain %q, want %q", what, snap.OriginalTransactionID, otx)
			}
			if snap.Purchase == nil || !reflect.DeepEqual(*snap.Purchase, w.purchase) {
				t.Errorf("%s: purchase %+v, want %+v", what, snap.Purchase, w.purchase)
			}
			heldLocks(t, what, snap, rec.locks...)
		}
		w.must(w.Sync.Abandon(w.ctx, s))
	}
}

func testFinalizeTransfer(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	s := w.open()
	fin := w.decide(s)
	if fin.Sync.Result != transfer.ResultTransferred || fin.Change == nil {
		t.Fatalf("decided %+v, want a transfer", fin)
	}
	w.must(w.Work.Finalize(w.ctx, fin))

	got, _ := w.get(s.ID)
	want := s
	want.Status, want.Result = transfer.StatusFinalized, transfer.ResultTransferred
	want.OfferID, want.PreviousOwner = w.purchase.OfferID, w.a
	want.UpdatedAt, want.FinalizedAt = fin.Sync.UpdatedAt, fin.Sync.FinalizedAt
	sameSync(t, "finalized record", got, want)

	p := w.purchaseNow(otx)
	if p == nil || p.Owner != w.b || p.Version != w.purchase.Version+1 {
		t.Errorf("purchase after the transfer = %+v, want owner %d at version %d", p, w.b, w.purchase.Version+1)
	}
	h := w.history(otx)
	if len(h) != 1 || h[0].From != w.a || h[0].To != w.b || h[0].SynchronizationID != s.ID ||
		h[0].OriginalTransactionID != otx || !h[0].At.Equal(fin.Sync.FinalizedAt) {
		t.Errorf("history = %+v, want one entry %d→%d by %s at %v", h, w.a, w.b, s.ID, fin.Sync.FinalizedAt)
	}
	heldLocks(t, "after Finalize", w.load(s))
	// The released locks let the next transfer of the chain open.
	w.mustOpen(w.newSync(w.tx, otx, w.a), future())
}

func testFinalizeUnchanged(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	s := w.newSync(w.tx, otx, w.a) // A owns it already
	w.mustOpen(s, future())
	fin := w.decide(s)
	if fin.Sync.Result != transfer.ResultUnchanged || fin.Change != nil || fin.ReadVersion == nil {
		t.Fatalf("decided %+v, want unchanged on a read version", fin)
	}
	w.must(w.Work.Finalize(w.ctx, fin))
	if p := w.purchaseNow(otx); p == nil || p.Owner != w.a || p.Version != w.purchase.Version {
		t.Errorf("purchase = %+v, want it untouched", p)
	}
	if h := w.history(otx); len(h) != 0 {
		t.Errorf("history = %+v, want none", h)
	}
	if got, _ := w.get(s.ID); got.Status != transfer.StatusFinalized || got.Result != transfer.ResultUnchanged || got.OfferID != w.purchase.OfferID {
		t.Errorf("record = %+v", got)
	}
	heldLocks(t, "after Finalize", w.load(s))
}

func testFinalizeAlreadyFinalized(t *testing.T, w *world) {
	s := w.open()
	fin := w.decide(s)
	w.must(w.Work.Finalize(w.ctx, fin))
	if err := w.Work.Finalize(w.ctx, fin); !errors.Is(err, transfer.ErrAlreadyFinalized) {
		t.Errorf("second Finalize = %v, want ErrAlreadyFinalized", err)
	}
	if h := w.history(w.purchase.OriginalTransactionID); len(h) != 1 {
		t.Errorf("history = %+v, want the one entry", h)
	}
	if p := w.purchaseNow(w.purchase.OriginalTransactionID); p.Version != w.purchase.Version+1 {
		t.Errorf("purchase version %d, want %d (changed once)", p.Version, w.purchase.Version+1)
	}
	missing := fin
	missing.Sync.ID = "sync-unknown"
	missing.Change, missing.ReadVersion, missing.ReleaseLocks = nil, nil, nil
	if err := w.Work.Finalize(w.ctx, missing); !errors.Is(err, transfer.ErrAlreadyFinalized) {
		t.Errorf("Finalize of a missing record = %v, want ErrAlreadyFinalized", err)
	}
	if _, ok := w.get("sync-unknown"); ok {
		t.Error("Finalize created a record")
	}
}

// unchangedAfterRefusal asserts a refused Finalize applied nothing.
func (w *world) unchangedAfterRefusal(s transfer.Synchronization, locks ...transfer.LockKey) {
	w.t.Helper()
	otx := w.purchase.OriginalTransactionID
	if got, _ := w.get(s.ID); got.Status != transfer.StatusProcessing || got.Result != "" {
		w.t.Errorf("record after a refused Finalize = %+v, want it unfinished", got)
	}
	if h := w.history(otx); len(h) != 0 {
		w.t.Errorf("history after a refused Finalize = %+v", h)
	}
	heldLocks(w.t, "after a refused Finalize", w.load(s), locks...)
}

func testFinalizeStaleVersion(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	s := w.newSync(w.tx, otx, w.a)
	w.mustOpen(s, future())
	fin := w.decide(s) // unchanged, on version 3
	moved := w.purchase
	moved.Version++
	w.must(w.Seed.PutPurchase(w.ctx, moved))
	if err := w.Work.Finalize(w.ctx, fin); !errors.Is(err, transfer.ErrStale) {
		t.Fatalf("Finalize on a changed version = %v, want ErrStale", err)
	}
	w.unchangedAfterRefusal(s, w.txLock(w.tx), w.chainLock(otx))
}

func testFinalizeStaleOwner(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	s := w.open()
	fin := w.decide(s) // A → B
	// Another change of owner at the same version (an operator's import).
	moved := w.purchase
	moved.Owner = w.b
	w.must(w.Seed.PutPurchase(w.ctx, moved))
	if err := w.Work.Finalize(w.ctx, fin); !errors.Is(err, transfer.ErrStale) {
		t.Fatalf("Finalize on another owner = %v, want ErrStale", err)
	}
	if p := w.purchaseNow(otx); p.Owner != w.b || p.Version != w.purchase.Version {
		t.Errorf("purchase = %+v, want the operator's", p)
	}
	w.unchangedAfterRefusal(s, w.txLock(w.tx), w.chainLock(otx))
}

func testFinalizeLockNotOwned(t *testing.T, w *world) {
	otx := w.purchase.OriginalTransactionID
	orphan := w.newSync(w.tx, otx, w.b)
	w.mustOpen(orphan, past())
	fin := w.decide(orphan) // decided while it still held both locks
	heir := w.newSync(w.tx, otx, w.a)
	w.mustOpen(heir, future())
	if err := w.Work.Finalize(w.ctx, fin); !errors.Is(err, transfer.ErrStale) {
		t.Fatalf("Finalize releasing another's locks = %v, want ErrStale", err)
	}
	w.unchangedAfterRefusal(orphan)
	if p := w.purchaseNow(otx); p.Owner != w.a || p.Version != w.purchase.Version {
		t.Errorf("purchase = %+v, want it untouched (all or nothing)", p)
	}
	heldLocks(t, "heir", w.load(heir), w.txLock(w.tx), w.chainLock(otx))
	// Read again, the orphan holds nothing and finalizes.
	w.must(w.Work.Finalize(w.ctx, w.decide(orphan)))
	heldLocks(t, "heir, after the orphan finalized", w.load(heir), w.txLock(w.tx), w.chainLock(otx))
}

func testMarkRetrying(t *testing.T, w *world) {
	s := w.open()
	at := time.Now().UTC().Add(time.Second).Truncate(time.Millisecond)
	w.must(w.Work.MarkRetrying(w.ctx, transfer.JobOf(s), 2, at))
	got, _ := w.get(s.ID)
	want := s
	want.Status, want.Attempts, want.UpdatedAt = transfer.StatusRetrying, 2, at
	sameSync(t, "retrying record", got, want)
	heldLocks(t, "retrying", w.load(s), w.txLock(w.tx), w.chainLock(w.purchase.OriginalTransactionID))
	// A retrying record finalizes like a processing one.
	w.must(w.Work.Finalize(w.ctx, w.decide(s)))
	if got, _ := w.get(s.ID); got.Status != transfer.StatusFinalized || got.Attempts != 2 {
		t.Errorf("finalized record = %+v, want finalized keeping its attempts", got)
	}
	job := transfer.JobOf(s)
	job.SynchronizationID = "sync-unknown"
	w.must(w.Work.MarkRetrying(w.ctx, job, 1, at))
	if _, ok := w.get("sync-unknown"); ok {
		t.Error("MarkRetrying created a record")
	}
}

func testMarkRetryingFinalized(t *testing.T, w *world) {
	s := w.open()
	w.must(w.Work.Finalize(w.ctx, w.decide(s)))
	before, _ := w.get(s.ID)
	if err := w.Work.MarkRetrying(w.ctx, transfer.JobOf(s), 3, time.Now().Add(time.Minute)); err != nil {
		t.Errorf("MarkRetrying of a finalized record = %v, want nil", err)
	}
	after, _ := w.get(s.ID)
	sameSync(t, "finalized record after MarkRetrying", after, before)
}

// Stale, Requeued

// openedAgo opens a synchronization of a fresh transaction created d ago.
func (w *world) openedAgo(d time.Duration) transfer.Synchronization {
	w.t.Helper()
	s := w.newSync("tx-"+w.hash+"-"+d.String(), "", w.b)
	s.CreatedAt = s.CreatedAt.Add(-d)
	s.UpdatedAt = s.CreatedAt
	w.mustOpen(s, future())
	return s
}

func ids(ss []transfer.Synchronization) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	slices.Sort(out)
	return out
}

func testStale(t *testing.T, w *world) {
	old := w.openedAgo(20 * time.Minute)
	retrying := w.openedAgo(15 * time.Minute)
	w.must(w.Work.MarkRetrying(w.ctx, transfer.JobOf(retrying), 2, time.Now()))
	w.openedAgo(time.Minute) // within its grace
	done := w.openedAgo(30 * time.Minute)
	w.must(w.Work.Finalize(w.ctx, w.decide(done)))

	stale, err := w.Sweep.Stale(w.ctx, time.Now().Add(-10*time.Minute), 100)
	w.must(err)
	if got, want := ids(stale), ids([]transfer.Synchronization{old, retrying}); !slices.Equal(got, want) {
		t.Fatalf("stale = %v, want %v (unfinished, past their grace)", got, want)
	}
	for _, s := range stale {
		if s.ID == old.ID {
			sameSync(t, "stale record", s, old)
		}
		if s.ID == retrying.ID && (s.Status != transfer.StatusRetrying || s.Attempts != 2) {
			t.Errorf("stale retrying record = %+v", s)
		}
	}
}

func testStaleLimit(t *testing.T, w *world) {
	var all []transfer.Synchronization
	for i := range 5 {
		all = append(all, w.openedAgo(time.Duration(10+i)*time.Minute))
	}
	stale, err := w.Sweep.Stale(w.ctx, time.Now().Add(-5*time.Minute), 3)
	w.must(err)
	if len(stale) != 3 {
		t.Fatalf("Stale with limit 3 of 5 returned %d", len(stale))
	}
	known := ids(all)
	for _, id := range ids(stale) {
		if !slices.Contains(known, id) {
			t.Errorf("Stale returned %s, not one of the stale", id)
		}
	}
	if got := ids(stale); len(slices.Compact(got)) != 3 {
		t.Errorf("Stale returned duplicates: %v", got)
	}
	none, err := w.Sweep.Stale(w.ctx, time.Now().Add(-5*time.Minute), 0)
	w.must(err)
	if len(none) != 0 {
		t.Errorf("Stale with limit 0 returned %d", len(none))
	}
}

func testRequeued(t *testing.T, w *world) {
	a := w.openedAgo(20 * time.Minute)
	b := w.openedAgo(21 * time.Minute)
	w.must(w.Sweep.Requeued(w.ctx, a, time.Now()))
	stale, err := w.Sweep.Stale(w.ctx, time.Now().Add(-10*time.Minute), 100)
	w.must(err)
	if got := ids(stale); !slices.Equal(got, []string{b.ID}) {
		t.Errorf("stale after requeuing %s = %v, want only %s", a.ID, got, b.ID)
	}
	// Its grace restarts from the requeue: found again once it is over.
	stale, err = w.Sweep.Stale(w.ctx, time.Now().Add(time.Minute), 100)
	w.must(err)
	if got := ids(stale); !slices.Equal(got, ids([]transfer.Synchronization{a, b})) {
		t.Errorf("stale after the requeue's grace = %v, want both", got)
	}
	// Requeuing what is finalized or unknown changes nothing and is no error.
	w.must(w.Work.Finalize(w.ctx, w.decide(b)))
	w.must(w.Sweep.Requeued(w.ctx, b, time.Now().Add(-time.Hour)))
	unknown := b
	unknown.ID = "sync-unknown"
	w.must(w.Sweep.Requeued(w.ctx, unknown, time.Now().Add(-time.Hour)))
	if _, ok := w.get(unknown.ID); ok {
		t.Error("Requeued created a record")
	}
	stale, err = w.Sweep.Stale(w.ctx, time.Now().Add(time.Minute), 100)
	w.must(err)
	if got := ids(stale); !slices.Equal(got, []string{a.ID}) {
		t.Errorf("stale after finalizing %s = %v, want only %s", b.ID, got, a.ID)
	}
}
