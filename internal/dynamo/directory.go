package dynamo

import (
	"context"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// The reads that gate a request: publisher, token, chain (Directory).

// Lookup reads the publisher, the token and the transaction's chain (both
// chainKeys) in one BatchGetItem. Eventually consistent reads suffice: these
// change rarely and are cached by the caller anyway.
func (s *Directory) Lookup(ctx context.Context, keys transfer.LookupKeys) (transfer.Lookup, error) {
	want := []key{publisherKey(keys.Publisher)}
	if keys.TokenHash != "" {
		want = append(want, tokenKey(keys.Publisher, keys.TokenHash))
	}
	if keys.TransactionID != "" {
		want = append(want, chainKeys(keys.Publisher, keys.TransactionID)...)
	}
	got, err := s.batchGet(ctx, want, false)
	if err != nil {
		return transfer.Lookup{}, err
	}
	var out transfer.Lookup
	var pub publisherItem
	if ok, err := unmarshalFound(got, want[0], &pub); err != nil {
		return out, err
	} else if ok {
		out.Publisher = pub.publisher()
	}
	if keys.TokenHash != "" {
		var tok tokenItem
		ok, err := unmarshalFound(got, tokenKey(keys.Publisher, keys.TokenHash), &tok)
		if err != nil {
			return out, err
		}
		out.TokenValid = ok && tok.liveAt(s.now())
	}
	if keys.TransactionID != "" {
		otx, _, err := chainOf(got, keys.Publisher, keys.TransactionID)
		if err != nil {
			return out, err
		}
		out.OriginalTransactionID = otx
	}
	return out, nil
}
