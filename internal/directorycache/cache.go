// Package directorycache keeps the answers of a transfer.Directory in the
// container for a short time, so that a warm request costs no read for its
// credentials, its publisher's settings or its transaction's chain.
package directorycache

import (
	"context"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Defaults: a revoked token or a flipped publisher flag takes effect within
// DefaultTTL; a transaction's chain never changes, so it is kept longer.
const (
	DefaultTTL      = 10 * time.Second
	DefaultChainTTL = time.Hour
	maxEntries      = 10_000
)

// Directory caches another Directory.
type Directory struct {
	inner transfer.Directory
	// off is set by a zero TTL: every lookup goes to inner.
	off        bool
	publishers *expirable.LRU[transfer.PublisherID, *transfer.Publisher]
	tokens     *expirable.LRU[tokenKey, bool]
	chains     *expirable.LRU[chainKey, string]
}

type tokenKey struct {
	publisher transfer.PublisherID
	hash      string
}

type chainKey struct {
	publisher     transfer.PublisherID
	transactionID string
}

// New caches inner's answers for ttl (chains for chainTTL). A ttl of zero
// or less turns the cache off (the LRU library would read it as "forever").
func New(inner transfer.Directory, ttl, chainTTL time.Duration) *Directory {
	if chainTTL <= 0 {
		chainTTL = ttl
	}
	return &Directory{
		inner:      inner,
		off:        ttl <= 0,
		publishers: expirable.NewLRU[transfer.PublisherID, *transfer.Publisher](maxEntries, nil, ttl),
		tokens:     expirable.NewLRU[tokenKey, bool](maxEntries, nil, ttl),
		chains:     expirable.NewLRU[chainKey, string](maxEntries, nil, chainTTL),
	}
}

// Lookup answers from the cache when it can, and otherwise asks inner, in
// one call, for everything the cache lacks.
func (d *Directory) Lookup(ctx context.Context, keys transfer.LookupKeys) (transfer.Lookup, error) {
	if d.off {
		return d.inner.Lookup(ctx, keys)
	}
	var out transfer.Lookup
	missing := false

	pub, ok := d.publishers.Get(keys.Publisher)
	out.Publisher = pub
	missing = missing || !ok

	tk := tokenKey{keys.Publisher, keys.TokenHash}
	if keys.TokenHash != "" {
		valid, ok := d.tokens.Get(tk)
		out.TokenValid = valid
		missing = missing || !ok
	}

	ck := chainKey{keys.Publisher, keys.TransactionID}
	fetch := keys
	if keys.TransactionID != "" {
		if otx, ok := d.chains.Get(ck); ok {
			out.OriginalTransactionID = otx
			fetch.TransactionID = ""
		} else {
			missing = true
		}
	}
	if !missing {
		return out, nil
	}

	got, err := d.inner.Lookup(ctx, fetch)
	if err != nil {
		return transfer.Lookup{}, err
	}
	d.publishers.Add(keys.Publisher, got.Publisher)
	if keys.TokenHash != "" {
		d.tokens.Add(tk, got.TokenValid)
	}
	if fetch.TransactionID != "" {
		out.OriginalTransactionID = got.OriginalTransactionID
		// Only a known chain is cached: an unknown transaction may be
		// imported at any moment.
		if got.OriginalTransactionID != "" {
			d.chains.Add(ck, got.OriginalTransactionID)
		}
	}
	out.Publisher, out.TokenValid = got.Publisher, got.TokenValid
	return out, nil
}
