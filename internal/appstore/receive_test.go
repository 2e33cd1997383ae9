package appstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/transfer"
)

var testApp = &transfer.AppleApp{
	BundleID: "com.example.app", AppAppleID: 42,
	Environments: []string{transfer.EnvironmentProduction},
	Offers:       map[string]string{"monthly": "S1_M", "yearly": "S1_Y"},
}

// fakeVerifier answers a fixed notification, or refuses.
type fakeVerifier struct {
	n     apple.Notification
	err   error
	calls int
}

func (v *fakeVerifier) VerifyNotification(context.Context, string) (apple.Notification, error) {
	v.calls++
	return v.n, v.err
}

type fakeDirectory struct {
	pub   *transfer.Publisher
	calls int
}

func (d *fakeDirectory) Lookup(context.Context, transfer.LookupKeys) (transfer.Lookup, error) {
	d.calls++
	return transfer.Lookup{Publisher: d.pub}, nil
}

// fakeStore records what it is asked to write; recordErrs answer Record in turn.
type fakeStore struct {
	purchase   *transfer.Purchase
	recordErrs []error
	records    []appstore.Record
	changes    []*appstore.Change
}

func (s *fakeStore) Purchase(context.Context, transfer.PublisherID, string) (*transfer.Purchase, error) {
	return s.purchase, nil
}

func (s *fakeStore) Record(_ context.Context, rec appstore.Record, c *appstore.Change) error {
	s.records = append(s.records, rec)
	s.changes = append(s.changes, c)
	if len(s.recordErrs) > 0 {
		err := s.recordErrs[0]
		s.recordErrs = s.recordErrs[1:]
		return err
	}
	return nil
}

func renewal(signedAt time.Time) apple.Notification {
	return apple.Notification{
		Payload: apple.NotificationPayload{NotificationType: apple.TypeDidRenew, NotificationUUID: "u-1", SignedDate: signedAt.UnixMilli(),
			Data: &apple.NotificationData{AppAppleID: 42, BundleID: "com.example.app", Environment: apple.EnvironmentProduction}},
		Transaction: &apple.TransactionInfo{TransactionID: "t-2", OriginalTransactionID: "t-1", BundleID: "com.example.app",
			ProductID: "monthly", Type: apple.ProductAutoRenewable, Environment: apple.EnvironmentProduction,
			ExpiresDate: signedAt.Add(30 * 24 * time.Hour).UnixMilli(), SignedDate: signedAt.UnixMilli()},
	}
}

func code(t *testing.T, err error) transfer.Code {
	t.Helper()
	var e *transfer.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *transfer.Error", err)
	}
	return e.Code
}

func TestReceiveChecksInOrder(t *testing.T) {
	t.Parallel()
	now := time.Now()
	withApp := &transfer.Publisher{ID: 7, Apple: testApp}
	otherApp := renewal(now)
	otherApp.Payload.Data.BundleID = "com.example.other"
	tests := []struct {
		name        string
		publisher   transfer.PublisherID
		verifier    *fakeVerifier
		directory   *fakeDirectory
		want        transfer.Code
		wantLookups int
	}{
		{"unverified, before any read", 7, &fakeVerifier{err: apple.ErrUnverified}, &fakeDirectory{pub: withApp}, transfer.CodeAppleUnverified, 0},
		{"malformed is unverified too", 7, &fakeVerifier{err: apple.ErrMalformed}, &fakeDirectory{pub: withApp}, transfer.CodeAppleUnverified, 0},
		{"unknown publisher", 7, &fakeVerifier{n: renewal(now)}, &fakeDirectory{}, transfer.CodeAppleUnknownPublisher, 1},
		{"publisher id that cannot exist", 0, &fakeVerifier{n: renewal(now)}, &fakeDirectory{pub: withApp}, transfer.CodeAppleUnknownPublisher, 0},
		{"publisher without an app", 7, &fakeVerifier{n: renewal(now)}, &fakeDirectory{pub: &transfer.Publisher{ID: 7}}, transfer.CodeAppleUnknownPublisher, 1},
		{"another app", 7, &fakeVerifier{n: otherApp}, &fakeDirectory{pub: withApp}, transfer.CodeAppleWrongApp, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := &fakeStore{}
			_, err := appstore.NewReceiver(tc.verifier, tc.directory, store).Receive(context.Background(), tc.publisher, "jws")
			if got := code(t, err); got != tc.want {
				t.Errorf("code %s, want %s", got, tc.want)
			}
			if tc.directory.calls != tc.wantLookups {
				t.Errorf("%d lookups, want %d", tc.directory.calls, tc.wantLookups)
			}
			if len(store.records) != 0 {
				t.Errorf("a refusal wrote %d records", len(store.records))
			}
		})
	}
}

func TestReceiveRetriesAStaleRead(t *testing.T) {
	t.Parallel()
	now := time.Now()
	store := &fakeStore{purchase: &transfer.Purchase{OriginalTransactionID: "t-1", TransactionIDs: []string{"t-1"}, Owner: 5, Version: 3},
		recordErrs: []error{transfer.ErrStale, transfer.ErrStale}}
	r := appstore.NewReceiver(&fakeVerifier{n: renewal(now)}, &fakeDirectory{pub: &transfer.Publisher{ID: 7, Apple: testApp}}, store)
	out, err := r.Receive(context.Background(), 7, "jws")
	if err != nil || out != appstore.OutcomeApplied || len(store.records) != 3 {
		t.Fatalf("outcome %q err %v after %d writes, want applied after 3", out, err, len(store.records))
	}
	c := store.changes[2]
	if c.After.PublisherID != 7 || c.After.Owner != 5 || c.NewTransactionID != "t-2" || c.After.Version != 4 {
		t.Errorf("change %+v", c)
	}
}

func TestReceiveGivesUpOnAPurchaseThatKeepsChanging(t *testing.T) {
	t.Parallel()
	errs := make([]error, 20)
	for i := range errs {
		errs[i] = transfer.ErrStale
	}
	store := &fakeStore{purchase: &transfer.Purchase{OriginalTransactionID: "t-1", Version: 1}, recordErrs: errs}
	r := appstore.NewReceiver(&fakeVerifier{n: renewal(time.Now())}, &fakeDirectory{pub: &transfer.Publisher{ID: 7, Apple: testApp}}, store)
	_, err := r.Receive(context.Background(), 7, "jws")
	if got := code(t, err); got != transfer.CodeStorageFailure {
		t.Errorf("code %s, want %s (Apple retries a 5xx)", got, transfer.CodeStorageFailure)
	}
}

func TestReceiveDuplicateAndConflict(t *testing.T) {
	t.Parallel()
	dir := &fakeDirectory{pub: &transfer.Publisher{ID: 7, Apple: testApp}}
	dup := &fakeStore{recordErrs: []error{appstore.ErrDuplicate}}
	if out, err := appstore.NewReceiver(&fakeVerifier{n: renewal(time.Now())}, dir, dup).Receive(context.Background(), 7, "jws"); err != nil || out != appstore.OutcomeDuplicate {
		t.Errorf("duplicate: %q %v", out, err)
	}
	foreign := &fakeStore{purchase: &transfer.Purchase{OriginalTransactionID: "t-1", Version: 1}, recordErrs: []error{appstore.ErrForeignTransaction}}
	out, err := appstore.NewReceiver(&fakeVerifier{n: renewal(time.Now())}, dir, foreign).Receive(context.Background(), 7, "jws")
	if err != nil || out != appstore.OutcomeConflict || len(foreign.records) != 2 || foreign.changes[1] != nil || foreign.records[1].Outcome != appstore.OutcomeConflict {
		t.Errorf("conflict: %q %v, records %+v", out, err, foreign.records)
	}
}
