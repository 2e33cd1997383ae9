package memstore_test

import (
	"context"
	"testing"

	"github.com/acme/purchase-transfer/dev/memstore"
	"github.com/acme/purchase-transfer/dev/storecontract"
	"github.com/acme/purchase-transfer/internal/transfer"
)

var _ storecontract.Seeder = (*memstore.Store)(nil)

func TestContract(t *testing.T) {
	storecontract.Run(t, func(*testing.T) storecontract.Stores {
		s := memstore.New()
		return storecontract.Stores{
			Directory: s, Sync: s, Work: s, Sweep: s, Seed: s,
			History: func(ctx context.Context, p transfer.PublisherID, otx string) ([]storecontract.HistoryEntry, error) {
				h, err := s.History(ctx, p, otx)
				out := make([]storecontract.HistoryEntry, len(h))
				for i, e := range h {
					out[i] = storecontract.HistoryEntry(e)
				}
				return out, err
			},
		}
	})
}
