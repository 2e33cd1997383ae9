package directorycache_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/directorycache"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// fakeDirectory answers from maps and counts its calls.
type fakeDirectory struct {
	mu         sync.Mutex
	publishers map[transfer.PublisherID]*transfer.Publisher
	tokens     map[string]bool // "publisher/hash" -> live
	chains     map[string]string
	err        error
	calls      []transfer.LookupKeys
}

func newFake() *fakeDirectory {
	return &fakeDirectory{
		publishers: map[transfer.PublisherID]*transfer.Publisher{
			7: {ID: 7, StoreKit2Active: true},
			8: {ID: 8, StoreKit2Active: true},
		},
		tokens: map[string]bool{"7/live": true, "8/live": true, "7/revoked": false},
		chains: map[string]string{"tx-1": "otx-1", "tx-2": "otx-1"},
	}
}

func tokenID(p transfer.PublisherID, hash string) string {
	return fmt.Sprintf("%d/%s", p, hash)
}

func (d *fakeDirectory) Lookup(_ context.Context, keys transfer.LookupKeys) (transfer.Lookup, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, keys)
	if d.err != nil {
		return transfer.Lookup{}, d.err
	}
	var out transfer.Lookup
	if p, ok := d.publishers[keys.Publisher]; ok {
		cp := *p
		out.Publisher = &cp
	}
	if keys.TokenHash != "" {
		out.TokenValid = d.tokens[tokenID(keys.Publisher, keys.TokenHash)]
	}
	if keys.TransactionID != "" {
		out.OriginalTransactionID = d.chains[keys.TransactionID]
	}
	return out, nil
}

func (d *fakeDirectory) callCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

func (d *fakeDirectory) lastCall() transfer.LookupKeys {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[len(d.calls)-1]
}

func (d *fakeDirectory) set(f func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f()
}

func lookup(t *testing.T, d transfer.Directory, keys transfer.LookupKeys) transfer.Lookup {
	t.Helper()
	got, err := d.Lookup(context.Background(), keys)
	if err != nil {
		t.Fatalf("Lookup(%+v): %v", keys, err)
	}
	return got
}

func TestSecondLookupServedFromCache(t *testing.T) {
	t.Parallel()
	inner := newFake()
	c := directorycache.New(inner, time.Hour, time.Hour)
	keys := transfer.LookupKeys{Publisher: 7, TokenHash: "live", TransactionID: "tx-1"}
	first := lookup(t, c, keys)
	second := lookup(t, c, keys)
	if n := inner.callCount(); n != 1 {
		t.Fatalf("inner called %d times for two identical lookups, want 1", n)
	}
	if inner.lastCall() != keys {
		t.Errorf("inner asked %+v, want %+v", inner.lastCall(), keys)
	}
	for _, got := range []transfer.Lookup{first, second} {
		if got.Publisher == nil || got.Publisher.ID != 7 || !got.TokenValid || got.OriginalTransactionID != "otx-1" {
			t.Errorf("lookup = %+v", got)
		}
	}
}

func TestUnknownChainIsNotCached(t *testing.T) {
	t.Parallel()
	inner := newFake()
	c := directorycache.New(inner, time.Hour, time.Hour)
	keys := transfer.LookupKeys{Publisher: 7, TokenHash: "live", TransactionID: "tx-new"}
	if got := lookup(t, c, keys); got.OriginalTransactionID != "" {
		t.Fatalf("chain = %q, want unknown", got.OriginalTransactionID)
	}
	// The purchase is imported meanwhile.
	inner.set(func() { inner.chains["tx-new"] = "otx-new" })
	got := lookup(t, c, keys)
	if n := inner.callCount(); n != 2 {
		t.Fatalf("inner called %d times, want 2 (an unknown chain must be asked again)", n)
	}
	if inner.lastCall().TransactionID != "tx-new" {
		t.Errorf("second call asked %+v, want the transaction", inner.lastCall())
	}
	if got.OriginalTransactionID != "otx-new" {
		t.Errorf("chain = %q, want otx-new", got.OriginalTransactionID)
	}
	// Now known, it is cached.
	lookup(t, c, keys)
	if n := inner.callCount(); n != 2 {
		t.Errorf("inner called %d times after the chain became known, want 2", n)
	}
}

func TestCachedChainIsNotAskedAgain(t *testing.T) {
	t.Parallel()
	inner := newFake()
	c := directorycache.New(inner, time.Hour, time.Hour)
	lookup(t, c, transfer.LookupKeys{Publisher: 7, TransactionID: "tx-1"})
	// A token not seen yet: only what is missing goes to inner.
	got := lookup(t, c, transfer.LookupKeys{Publisher: 7, TokenHash: "live", TransactionID: "tx-1"})
	if n := inner.callCount(); n != 2 {
		t.Fatalf("inner called %d times, want 2", n)
	}
	if last := inner.lastCall(); last.TransactionID != "" || last.TokenHash != "live" {
		t.Errorf("second call asked %+v, want the token without the cached transaction", last)
	}
	if got.OriginalTransactionID != "otx-1" || !got.TokenValid {
		t.Errorf("lookup = %+v", got)
	}
}

func TestChainsAreKeptPerPublisher(t *testing.T) {
	t.Parallel()
	inner := newFake()
	c := directorycache.New(inner, time.Hour, time.Hour)
	lookup(t, c, transfer.LookupKeys{Publisher: 7, TransactionID: "tx-1"})
	lookup(t, c, transfer.LookupKeys{Publisher: 8, TransactionID: "tx-1"})
	if n := inner.callCount(); n != 2 {
		t.Fatalf("inner called %d times, want 2: a chain of publisher 7 answered for publisher 8", n)
	}
	if last := inner.lastCall(); last.Publisher != 8 || last.TransactionID != "tx-1" {
		t.Errorf("second call asked %+v", last)
	}
}

func TestTokenAndPublisherCachedSeparately(t *testing.T) {
	t.Parallel()
	inner := newFake()
	c := directorycache.New(inner, time.Hour, time.Hour)

	if got := lookup(t, c, transfer.LookupKeys{Publisher: 7, TokenHash: "live"}); !got.TokenValid {
		t.Fatal("live token reported dead")
	}
	// Another token of the same publisher is not the cached one.
	got := lookup(t, c, transfer.LookupKeys{Publisher: 7, TokenHash: "revoked"})
	if got.TokenValid {
		t.Error("a revoked token borrowed the validity of another cached token")
	}
	if n := inner.callCount(); n != 2 {
		t.Fatalf("inner called %d times, want 2", n)
	}
	// The same hash under another publisher is another token.
	if got := lookup(t, c, transfer.LookupKeys{Publisher: 8, TokenHash: "revoked"}); got.TokenValid {
		t.Error("publisher 8's unknown token borrowed publisher 7's answer")
	}
	if n := inner.callCount(); n != 3 {
		t.Fatalf("inner called %d times, want 3", n)
	}
	// A customer JWT needs only the publisher, which is cached.
	got = lookup(t, c, transfer.LookupKeys{Publisher: 7})
	if n := inner.callCount(); n != 3 {
		t.Errorf("inner called %d times for a cached publisher, want 3", n)
	}
	if got.Publisher == nil || got.Publisher.ID != 7 || got.TokenValid {
		t.Errorf("publisher-only lookup = %+v", got)
	}
	// Both tokens are now cached with their own answers.
	if !lookup(t, c, transfer.LookupKeys{Publisher: 7, TokenHash: "live"}).TokenValid ||
		lookup(t, c, transfer.LookupKeys{Publisher: 7, TokenHash: "revoked"}).TokenValid {
		t.Error("cached token answers mixed up")
	}
	if n := inner.callCount(); n != 3 {
		t.Errorf("inner called %d times, want 3", n)
	}
}

func TestUnknownPublisher(t *testing.T) {
	t.Parallel()
	inner := newFake()
	c := directorycache.New(inner, time.Hour, time.Hour)
	for range 2 {
		if got := lookup(t, c, transfer.LookupKeys{Publisher: 99, TokenHash: "live"}); got.Publisher != nil || got.TokenValid {
			t.Errorf("unknown publisher looked up as %+v", got)
		}
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	t.Parallel()
	inner := newFake()
	inner.err = errors.New("throttled")
	c := directorycache.New(inner, time.Hour, time.Hour)
	keys := transfer.LookupKeys{Publisher: 7, TokenHash: "live", TransactionID: "tx-1"}
	if _, err := c.Lookup(context.Background(), keys); err == nil {
		t.Fatal("inner error swallowed")
	}
	inner.set(func() { inner.err = nil })
	got := lookup(t, c, keys)
	if n := inner.callCount(); n != 2 {
		t.Errorf("inner called %d times, want 2", n)
	}
	if got.Publisher == nil || !got.TokenValid || got.OriginalTransactionID != "otx-1" {
		t.Errorf("lookup after recovery = %+v", got)
	}
}

// waitForCall polls Lookup until inner has been called want times or the
// deadline passes.
func waitForCall(t *testing.T, c transfer.Directory, inner *fakeDirectory, keys transfer.LookupKeys, want int) transfer.Lookup {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := lookup(t, c, keys)
		if inner.callCount() >= want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache entry never expired: inner still called %d times", inner.callCount())
		}
		runtime.Gosched()
	}
}

func TestEntriesExpireAfterTTL(t *testing.T) {
	t.Parallel()
	inner := newFake()
	const ttl = 20 * time.Millisecond
	c := directorycache.New(inner, ttl, time.Hour)
	keys := transfer.LookupKeys{Publisher: 7, TokenHash: "live"}
	start := time.Now()
	lookup(t, c, keys)
	// The operator revokes the token; the cache may say "live" until the TTL.
	inner.set(func() { inner.tokens["7/live"] = false })
	got := waitForCall(t, c, inner, keys, 2)
	if elapsed := time.Since(start); elapsed < ttl {
		t.Errorf("entry refreshed after %v, before its TTL of %v", elapsed, ttl)
	}
	if got.TokenValid {
		t.Error("revoked token still valid after the TTL")
	}
}

func TestPublisherFlagsExpireAfterTTL(t *testing.T) {
	t.Parallel()
	inner := newFake()
	c := directorycache.New(inner, 20*time.Millisecond, time.Hour)
	keys := transfer.LookupKeys{Publisher: 7}
	if got := lookup(t, c, keys); !got.Publisher.StoreKit2Active {
		t.Fatal("fixture publisher inactive")
	}
	inner.set(func() { inner.publishers[7].StoreKit2Active = false })
	if got := waitForCall(t, c, inner, keys, 2); got.Publisher.StoreKit2Active {
		t.Error("flipped publisher flag not seen after the TTL")
	}
}

func TestChainsUseTheirOwnTTL(t *testing.T) {
	t.Parallel()
	inner := newFake()
	// Credentials expire at once; chains are kept for an hour.
	c := directorycache.New(inner, 20*time.Millisecond, time.Hour)
	keys := transfer.LookupKeys{Publisher: 7, TokenHash: "live", TransactionID: "tx-1"}
	lookup(t, c, keys)
	got := waitForCall(t, c, inner, keys, 2)
	if last := inner.lastCall(); last.TransactionID != "" {
		t.Errorf("refresh of the credential asked the chain again: %+v", last)
	}
	if got.OriginalTransactionID != "otx-1" {
		t.Errorf("chain = %q", got.OriginalTransactionID)
	}
}

func TestZeroTTLDoesNotCacheForever(t *testing.T) {
	t.Parallel()
	inner := newFake()
	c := directorycache.New(inner, 0, 0)
	keys := transfer.LookupKeys{Publisher: 7, TokenHash: "live"}
	lookup(t, c, keys)
	inner.set(func() { inner.tokens["7/live"] = false })
	if got := lookup(t, c, keys); got.TokenValid {
		t.Errorf("with a zero TTL the revoked token is still served from cache (inner called %d times)", inner.callCount())
	}
}
