package dynamo

import (
	"context"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Reading a synchronization record (SyncReader, and AcceptStore through it).

// Get reads a synchronization strongly consistently, so that a client polling
// right after its 202 never sees a 404.
func (s *SyncReader) Get(ctx context.Context, publisher transfer.PublisherID, id string) (transfer.Synchronization, bool, error) {
	var rec syncItem
	ok, err := s.getItem(ctx, syncKey(publisher, id), &rec)
	if err != nil || !ok {
		return transfer.Synchronization{}, false, err
	}
	return rec.synchronization(), true, nil
}
