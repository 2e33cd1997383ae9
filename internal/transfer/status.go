package transfer

import "context"

// StatusReader serves the status endpoint: a publisher sees its own
// synchronizations, a customer only those it is the target of, and anything
// else is indistinguishable from an unknown id.
type StatusReader struct {
	directory Directory
	store     SynchronizationReader
}

// NewStatusReader wires the status rules to their ports.
func NewStatusReader(d Directory, s SynchronizationReader) *StatusReader {
	return &StatusReader{directory: d, store: s}
}

// Get returns the synchronization id as the credential may see it.
func (r *StatusReader) Get(ctx context.Context, c Credential, id string) (Synchronization, error) {
	found, err := r.directory.Lookup(ctx, LookupKeys{Publisher: c.Publisher, TokenHash: c.TokenHash})
	if err != nil {
		return Synchronization{}, Internal(CodeStorageFailure, err)
	}
	if err := authorize(c, found); err != nil {
		return Synchronization{}, err
	}
	sync, ok, err := r.store.Get(ctx, c.Publisher, id)
	if err != nil {
		return Synchronization{}, Internal(CodeStorageFailure, err)
	}
	if !ok || (c.IsCustomer() && sync.Target != c.Customer) {
		return Synchronization{}, Refuse(CodeNotFound, "The synchronization does not exist.")
	}
	return sync, nil
}
