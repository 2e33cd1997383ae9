package apple_test

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
)

// signedAt signs the fixture transaction by a at signedDate at (with a's own x5c unless opts
// say otherwise).
func signedAt(t *testing.T, a *localroot.Authority, f fixtures, at time.Time, opts ...localroot.SignOption) string {
	t.Helper()
	tx := f.tx
	tx.SignedDate = at.UnixMilli()
	return must[string](t)(a.Sign(tx, opts...))
}

// A chain verified once is served from the cache (it verifies after the verifier forgot its
// roots), but only within the validity of its certificates: a signedDate before or after it is
// refused though the chain is cached, as it is on a fresh verifier, and the cache still serves
// the chain in its window afterwards.
func TestCachedChainIsJudgedAtEachSignedDate(t *testing.T) {
	root, fresh := newAuthority(t)
	now := time.Now()
	day := 24 * time.Hour
	a := must[*localroot.Authority](t)(root.Issue(localroot.WithLeafValidity(now.Add(-10*day), now.Add(10*day))))
	f := loadFixtures(t)
	v := must[*apple.Verifier](t)(apple.NewVerifier(apple.WithRoots(root.Pool())))

	if _, err := v.VerifyTransaction(ctx, signedAt(t, a, f, now)); err != nil {
		t.Fatalf("within the validity: %v", err)
	}
	for name, at := range map[string]time.Time{
		"before the leaf's notBefore": now.Add(-11 * day),
		"after the leaf's notAfter":   now.Add(11 * day),
	} {
		tok := signedAt(t, a, f, at)
		_, err := v.VerifyTransaction(ctx, tok)
		assertErr(t, err, apple.ErrUnverified, tok)
		var invalid x509.CertificateInvalidError
		if !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
			t.Errorf("%s: err = %v, want the certificate's validity", name, err)
		}
		// The same answer as a verifier that never saw the chain.
		if _, err := fresh.VerifyTransaction(ctx, tok); !errors.Is(err, apple.ErrUnverified) {
			t.Errorf("%s: a fresh verifier answers %v", name, err)
		}
	}
	apple.ForgetRoots(v)
	if _, err := v.VerifyTransaction(ctx, signedAt(t, a, f, now.Add(9*day))); err != nil {
		t.Errorf("cached chain within its validity: %v", err)
	}
	tok := signedAt(t, a, f, now.Add(11*day))
	_, err := v.VerifyTransaction(ctx, tok)
	assertErr(t, err, apple.ErrUnverified, tok)
}

// The cache serves only the exact chain it verified, and never spares a signature: another
// chain (another leaf under the same intermediate, another root named after a cached leaf and
// intermediate) is verified on its own, a token signed by another key under a cached chain is
// refused, and so is a cached chain's token whose payload was changed.
func TestCacheServesOnlyTheChainItVerified(t *testing.T) {
	a, v := newAuthority(t)
	f := loadFixtures(t)
	now := time.Now()
	sibling := must[*localroot.Authority](t)(a.Issue())
	otherRoot := must[*localroot.Authority](t)(localroot.New())
	good := signedAt(t, a, f, now)
	if _, err := v.VerifyTransaction(ctx, good); err != nil {
		t.Fatal(err)
	}
	apple.ForgetRoots(v)
	if _, err := v.VerifyTransaction(ctx, good); err != nil {
		t.Fatalf("cached chain: %v", err)
	}
	x5c := a.X5C()
	for name, tok := range map[string]string{
		// Valid under the root the verifier trusted, but never verified: with the roots
		// forgotten, only a cache mix-up would accept it.
		"another leaf under the same intermediate": signedAt(t, sibling, f, now),
		"the cached leaf and intermediate, another root": signedAt(t, a, f, now,
			localroot.WithX5C(x5c[0], x5c[1], otherRoot.X5C()[2])),
		"the cached chain, signed by another leaf's key": signedAt(t, sibling, f, now, localroot.WithX5C(x5c...)),
		"the cached chain, its payload changed": must[string](t)(localroot.ReplaceInPayload(good,
			`"quantity":1`, `"quantity":9`)),
	} {
		_, err := v.VerifyTransaction(ctx, tok)
		if !errors.Is(err, apple.ErrUnverified) {
			t.Errorf("%s: err = %v, want ErrUnverified", name, err)
		}
	}
}

// The cache is bounded: past its size the least recently used chain is forgotten (and verified
// afresh when it comes back), the others stay.
func TestChainCacheIsBounded(t *testing.T) {
	root, v := newAuthority(t)
	f := loadFixtures(t)
	now := time.Now()
	chains := make([]*localroot.Authority, apple.ChainCacheSize+1)
	for i := range chains {
		chains[i] = must[*localroot.Authority](t)(root.Issue())
		if _, err := v.VerifyTransaction(ctx, signedAt(t, chains[i], f, now)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			continue
		}
		// The first chain is used again before the others: the second is the oldest.
		if _, err := v.VerifyTransaction(ctx, signedAt(t, chains[0], f, now)); err != nil {
			t.Fatal(err)
		}
	}
	if n := apple.CachedChains(v); n != apple.ChainCacheSize {
		t.Fatalf("%d chains cached, want %d", n, apple.ChainCacheSize)
	}
	apple.ForgetRoots(v)
	if _, err := v.VerifyTransaction(ctx, signedAt(t, chains[1], f, now)); !errors.Is(err, apple.ErrUnverified) {
		t.Errorf("the least recently used chain is still cached: %v", err)
	}
	for _, i := range []int{0, 2, len(chains) - 1} {
		if _, err := v.VerifyTransaction(ctx, signedAt(t, chains[i], f, now)); err != nil {
			t.Errorf("chain %d was forgotten: %v", i, err)
		}
	}
}

// The revocation check runs on every verification, cached chain or not.
func TestRevocationCheckedOnEveryUse(t *testing.T) {
	a, _ := newAuthority(t)
	f := loadFixtures(t)
	calls := 0
	var revoked error
	v := must[*apple.Verifier](t)(apple.NewVerifier(apple.WithRoots(a.Pool()),
		apple.WithRevocationCheck(func(context.Context, []*x509.Certificate) error { calls++; return revoked })))
	tok := signedAt(t, a, f, time.Now())
	for range 3 {
		if _, err := v.VerifyTransaction(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 3 {
		t.Errorf("revocation checked %d times in 3 verifications", calls)
	}
	revoked = errors.New("revoked")
	if _, err := v.VerifyTransaction(ctx, tok); !errors.Is(err, apple.ErrUnverified) {
		t.Errorf("a cached chain revoked since: %v", err)
	}
}
