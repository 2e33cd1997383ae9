package transfer_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/memstore"
	"github.com/acme/purchase-transfer/internal/transfer"
)

const (
	testPublisher = transfer.PublisherID(7)
	testTarget    = transfer.CustomerID(42)
	testTokenHash = "token-hash"
	testTx        = "tx-1"
	testChain     = "otx-1"
)

var testNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))

func tokenCredential() transfer.Credential {
	return transfer.Credential{Publisher: testPublisher, TokenHash: testTokenHash}
}

func customerCredential(c transfer.CustomerID) transfer.Credential {
	return transfer.Credential{Publisher: testPublisher, Customer: c}
}

func validRequest() transfer.Request {
	return transfer.Request{Target: testTarget, TransactionID: testTx, IPAddress: "192.0.2.1"}
}

func livePublisher() transfer.Lookup {
	return transfer.Lookup{
		Publisher:             &transfer.Publisher{ID: testPublisher, StoreKit2Active: true},
		TokenValid:            true,
		OriginalTransactionID: testChain,
	}
}

type openCall struct {
	sync       transfer.Synchronization
	leaseUntil time.Time
	limits     transfer.Limits
}

type abandonCall struct {
	sync   transfer.Synchronization
	ctxErr error
	// deadline of the rollback's context; zero for none.
	deadline time.Time
}

type getCall struct {
	publisher transfer.PublisherID
	id        string
}

// acceptFixture is an Acceptor on a memstore seeded so that its Lookup
// answers lookup, with the target customer present. Hooks record what
// reached the store and inject the errors the test sets.
type acceptFixture struct {
	mem   *memstore.Store
	queue *memstore.Queue
	acc   *transfer.Acceptor

	lookupErr, openErr, abandonErr error

	lookups  []transfer.LookupKeys
	opens    []openCall
	abandons []abandonCall
}

// seedLookup stores what makes a memstore's Lookup of testPublisher,
// testTokenHash and testTx answer l.
func seedLookup(t *testing.T, m *memstore.Store, l transfer.Lookup) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if l.Publisher != nil {
		must(m.PutPublisher(ctx, *l.Publisher))
	}
	must(m.PutToken(ctx, testPublisher, testTokenHash, "test"))
	if !l.TokenValid {
		must(m.RevokeToken(ctx, testPublisher, testTokenHash))
	}
	if l.OriginalTransactionID != "" {
		p := activePurchase(11)
		p.OriginalTransactionID = l.OriginalTransactionID
		p.TransactionIDs = []string{l.OriginalTransactionID, testTx}
		must(m.PutPurchase(ctx, *p))
	}
	must(m.PutCustomers(ctx, testPublisher, testTarget))
	got, err := m.Lookup(ctx, transfer.LookupKeys{Publisher: testPublisher, TokenHash: testTokenHash, TransactionID: testTx})
	must(err)
	if (got.Publisher == nil) != (l.Publisher == nil) || (got.Publisher != nil && *got.Publisher != *l.Publisher) ||
		got.TokenValid != l.TokenValid || got.OriginalTransactionID != l.OriginalTransactionID {
		t.Fatalf("seeded store looks up %+v, want %+v", got, l)
	}
}

func newAcceptFixture(t *testing.T, lookup transfer.Lookup, opts ...transfer.Option) *acceptFixture {
	t.Helper()
	f := &acceptFixture{
		mem:   memstore.New(memstore.WithClock(func() time.Time { return testNow })),
		queue: &memstore.Queue{},
	}
	seedLookup(t, f.mem, lookup)
	f.mem.SetHooks(memstore.Hooks{
		Lookup: func(_ context.Context, keys transfer.LookupKeys) error {
			f.lookups = append(f.lookups, keys)
			return f.lookupErr
		},
		Open: func(_ context.Context, s transfer.Synchronization, leaseUntil time.Time, limits transfer.Limits) error {
			f.opens = append(f.opens, openCall{sync: s, leaseUntil: leaseUntil, limits: limits})
			return f.openErr
		},
		Abandon: func(ctx context.Context, s transfer.Synchronization) error {
			d, _ := ctx.Deadline()
			f.abandons = append(f.abandons, abandonCall{sync: s, ctxErr: ctx.Err(), deadline: d})
			return f.abandonErr
		},
	})
	opts = append([]transfer.Option{transfer.WithClock(func() time.Time { return testNow })}, opts...)
	f.acc = transfer.NewAcceptor(f.mem, f.mem, f.queue, opts...)
	return f
}

// leftBehind fails the test when a refused request left a record or a lock.
func (f *acceptFixture) leftBehind(t *testing.T, id string) {
	t.Helper()
	if locks := f.mem.Locks(); len(locks) != 0 {
		t.Errorf("locks left behind: %+v", locks)
	}
	if id == "" {
		return
	}
	if s, ok, _ := f.mem.Get(context.Background(), testPublisher, id); ok {
		t.Errorf("record left behind: %+v", s)
	}
}

func codeOf(t *testing.T, err error) transfer.Code {
	t.Helper()
	var e *transfer.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *transfer.Error", err, err)
	}
	return e.Code
}

func TestAcceptRefusalsInContractOrder(t *testing.T) {
	t.Parallel()
	bodyErr := transfer.Refuse(transfer.CodeInvalidBody, "The request body is invalid.",
		transfer.FieldError{Field: "transactionId", Message: "is required"})

	inactive := livePublisher()
	inactive.Publisher = &transfer.Publisher{ID: testPublisher, StoreKit2Active: false, MigrationInProgress: true}
	migrating := livePublisher()
	migrating.Publisher = &transfer.Publisher{ID: testPublisher, StoreKit2Active: true, MigrationInProgress: true}
	unknownPublisher := livePublisher()
	unknownPublisher.Publisher = nil
	deadToken := livePublisher()
	deadToken.TokenValid = false

	tests := []struct {
		name    string
		lookup  transfer.Lookup
		in      transfer.Intake
		want    transfer.Code
		opened  bool // whether Open may have been called (conflicts come from it)
		openErr error
	}{
		{
			name:   "unknown publisher with a publisher token",
			lookup: unknownPublisher,
			in:     transfer.Intake{Credential: tokenCredential(), Request: validRequest()},
			want:   transfer.CodeUnauthenticated,
		},
		{
			name:   "unknown publisher with a customer JWT",
			lookup: unknownPublisher,
			in:     transfer.Intake{Credential: customerCredential(testTarget), Request: validRequest()},
			want:   transfer.CodeUnauthenticated,
		},
		{
			name:   "dead publisher token",
			lookup: deadToken,
			in:     transfer.Intake{Credential: tokenCredential(), Request: validRequest()},
			want:   transfer.CodeUnauthenticated,
		},
		{
			name:   "dead token wins over a bad body",
			lookup: deadToken,
			in:     transfer.Intake{Credential: tokenCredential(), BodyError: bodyErr},
			want:   transfer.CodeUnauthenticated,
		},
		{
			name:   "unknown publisher wins over a bad body",
			lookup: unknownPublisher,
			in:     transfer.Intake{Credential: customerCredential(testTarget), BodyError: bodyErr},
			want:   transfer.CodeUnauthenticated,
		},
		{
			name:   "bad body once authenticated",
			lookup: livePublisher(),
			in:     transfer.Intake{Credential: tokenCredential(), BodyError: bodyErr},
			want:   transfer.CodeInvalidBody,
		},
		{
			name:   "bad body wins over a JWT customer mismatch",
			lookup: livePublisher(),
			in:     transfer.Intake{Credential: customerCredential(99), BodyError: bodyErr},
			want:   transfer.CodeInvalidBody,
		},
		{
			name:   "bad body wins over an inactive integration",
			lookup: inactive,
			in:     transfer.Intake{Credential: tokenCredential(), BodyError: bodyErr},
			want:   transfer.CodeInvalidBody,
		},
		{
			name:   "JWT customer is not the target",
			lookup: livePublisher(),
			in:     transfer.Intake{Credential: customerCredential(99), Request: validRequest()},
			want:   transfer.CodeForbidden,
		},
		{
			name:   "JWT customer mismatch wins over an inactive integration",
			lookup: inactive,
			in:     transfer.Intake{Credential: customerCredential(99), Request: validRequest()},
			want:   transfer.CodeForbidden,
		},
		{
			name:   "integration inactive wins over migration",
			lookup: inactive,
			in:     transfer.Intake{Credential: tokenCredential(), Request: validRequest()},
			want:   transfer.CodeIntegrationInactive,
		},
		{
			name:   "migration in progress",
			lookup: migrating,
			in:     transfer.Intake{Credential: customerCredential(testTarget), Request: validRequest()},
			want:   transfer.CodeMigrationInProgress,
		},
		{
			name:    "all conflicts: unknown customer first",
			lookup:  livePublisher(),
			in:      transfer.Intake{Credential: tokenCredential(), Request: validRequest(), CorrelationID: "c1"},
			openErr: &transfer.OpenConflict{CustomerMissing: true, TransactionLocked: true, PurchaseLocked: true, Existing: &transfer.Synchronization{ID: "c1", RequestHash: "other"}},
			want:    transfer.CodeUnknownCustomer,
			opened:  true,
		},
		{
			name:    "transaction lock before purchase lock and reused id",
			lookup:  livePublisher(),
			in:      transfer.Intake{Credential: tokenCredential(), Request: validRequest(), CorrelationID: "c1"},
			openErr: &transfer.OpenConflict{TransactionLocked: true, PurchaseLocked: true, Existing: &transfer.Synchronization{ID: "c1", RequestHash: "other"}},
			want:    transfer.CodeTransactionLocked,
			opened:  true,
		},
		{
			name:    "purchase lock before reused id",
			lookup:  livePublisher(),
			in:      transfer.Intake{Credential: tokenCredential(), Request: validRequest(), CorrelationID: "c1"},
			openErr: &transfer.OpenConflict{PurchaseLocked: true, Existing: &transfer.Synchronization{ID: "c1", RequestHash: "other"}},
			want:    transfer.CodePurchaseLocked,
			opened:  true,
		},
		{
			name:    "correlation id reused for another body",
			lookup:  livePublisher(),
			in:      transfer.Intake{Credential: tokenCredential(), Request: validRequest(), CorrelationID: "c1"},
			openErr: &transfer.OpenConflict{Existing: &transfer.Synchronization{ID: "c1", RequestHash: "other"}},
			want:    transfer.CodeCorrelationIDReused,
			opened:  true,
		},
		{
			name:    "a wrapped conflict is still a conflict",
			lookup:  livePublisher(),
			in:      transfer.Intake{Credential: tokenCredential(), Request: validRequest()},
			openErr: fmt.Errorf("transact: %w", &transfer.OpenConflict{TransactionLocked: true}),
			want:    transfer.CodeTransactionLocked,
			opened:  true,
		},
		{
			name:    "a conflict without a reason is internal",
			lookup:  livePublisher(),
			in:      transfer.Intake{Credential: tokenCredential(), Request: validRequest()},
			openErr: &transfer.OpenConflict{},
			want:    transfer.CodeStorageFailure,
			opened:  true,
		},
		{
			name:    "a storage failure is internal",
			lookup:  livePublisher(),
			in:      transfer.Intake{Credential: tokenCredential(), Request: validRequest()},
			openErr: errors.New("ProvisionedThroughputExceededException"),
			want:    transfer.CodeStorageFailure,
			opened:  true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newAcceptFixture(t, tc.lookup)
			f.openErr = tc.openErr
			got, err := f.acc.Accept(context.Background(), tc.in)
			if err == nil {
				t.Fatalf("Accept = %+v, want refusal %s", got, tc.want)
			}
			if code := codeOf(t, err); code != tc.want {
				t.Fatalf("code = %s, want %s (err: %v)", code, tc.want, err)
			}
			if got != (transfer.Accepted{}) {
				t.Errorf("a refusal returned a synchronization: %+v", got)
			}
			if !tc.opened && len(f.opens) != 0 {
				t.Errorf("Open called %d times on a request refused before storage", len(f.opens))
			}
			if len(f.queue.Jobs()) != 0 {
				t.Errorf("refused request enqueued %v", f.queue.Jobs())
			}
			if len(f.abandons) != 0 {
				t.Errorf("Abandon called on a refused request")
			}
			f.leftBehind(t, tc.in.CorrelationID)
		})
	}
}

func TestAcceptBodyErrorIsReturnedAsIs(t *testing.T) {
	t.Parallel()
	f := newAcceptFixture(t, livePublisher())
	bodyErr := transfer.Refuse(transfer.CodeInvalidBody, "bad",
		transfer.FieldError{Field: "ipAddress", Message: "must be a dotted-quad IPv4 address"})
	_, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: tokenCredential(), BodyError: bodyErr})
	var e *transfer.Error
	if !errors.As(err, &e) || e != bodyErr {
		t.Fatalf("err = %v, want the intake's BodyError itself", err)
	}
	if len(e.Details) != 1 || e.Details[0].Field != "ipAddress" {
		t.Errorf("details = %+v", e.Details)
	}
}

func TestAcceptRefusalDetailsNameTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cred      transfer.Credential
		openErr   error
		wantField string
	}{
		{"forbidden", customerCredential(99), nil, "cleengCustomerId"},
		{"unknown customer", tokenCredential(), &transfer.OpenConflict{CustomerMissing: true}, "cleengCustomerId"},
		{"transaction locked", tokenCredential(), &transfer.OpenConflict{TransactionLocked: true}, "transactionId"},
		{"purchase locked", tokenCredential(), &transfer.OpenConflict{PurchaseLocked: true}, "transactionId"},
		{"id reused", tokenCredential(), &transfer.OpenConflict{Existing: &transfer.Synchronization{RequestHash: "x"}}, "Correlation-Id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newAcceptFixture(t, livePublisher())
			f.openErr = tc.openErr
			_, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: tc.cred, Request: validRequest(), CorrelationID: "c"})
			var e *transfer.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v", err)
			}
			if len(e.Details) != 1 || e.Details[0].Field != tc.wantField {
				t.Errorf("details = %+v, want one naming %q", e.Details, tc.wantField)
			}
		})
	}
}

func TestAcceptLookupFailureIsInternal(t *testing.T) {
	t.Parallel()
	f := newAcceptFixture(t, livePublisher())
	f.lookupErr = errors.New("dynamodb: RequestLimitExceeded secret-detail")
	_, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: tokenCredential(), Request: validRequest()})
	var e *transfer.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v", err)
	}
	if !isSCode(e.Code) {
		t.Errorf("code = %s, want an S#### code", e.Code)
	}
	if strings.Contains(e.Message, "secret-detail") {
		t.Errorf("message leaks the cause: %q", e.Message)
	}
	if len(f.opens) != 0 || len(f.queue.Jobs()) != 0 {
		t.Error("a failed lookup reached storage or the queue")
	}
}

func TestAcceptOpensRecordsAndEnqueues(t *testing.T) {
	t.Parallel()
	f := newAcceptFixture(t, livePublisher(), transfer.WithLockLease(7*time.Minute), transfer.WithIDGenerator(func() string { return "GENERATED" }))
	req := validRequest()
	got, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: tokenCredential(), Request: req})
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if got.Replayed {
		t.Error("a fresh request is reported as a replay")
	}
	if len(f.opens) != 1 {
		t.Fatalf("Open called %d times, want 1", len(f.opens))
	}
	open := f.opens[0]
	s := open.sync
	now := testNow.UTC()
	want := transfer.Synchronization{
		PublisherID:           testPublisher,
		ID:                    "GENERATED",
		RequestHash:           req.Fingerprint(),
		TransactionID:         testTx,
		OriginalTransactionID: testChain,
		Target:                testTarget,
		IPAddress:             "192.0.2.1",
		Status:                transfer.StatusProcessing,
		Counted:               true,
		CreatedAt:             now,
		UpdatedAt:             now,
	}
	if s != want {
		t.Errorf("opened\n %+v\nwant\n %+v", s, want)
	}
	if open.limits != (transfer.Limits{}) {
		t.Errorf("limits = %+v, want none without WithLimits", open.limits)
	}
	if c, p := f.mem.Unfinished(testPublisher, testTarget); c != 1 || p != 1 {
		t.Errorf("unfinished counts = %d (customer), %d (publisher), want 1 and 1", c, p)
	}
	if s.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt is in %v, want UTC", s.CreatedAt.Location())
	}
	if !open.leaseUntil.Equal(testNow.Add(7 * time.Minute)) {
		t.Errorf("leaseUntil = %v, want now+7m = %v", open.leaseUntil, testNow.Add(7*time.Minute))
	}
	if got.Synchronization != s {
		t.Errorf("Accepted.Synchronization = %+v, want the opened record", got.Synchronization)
	}
	if len(f.queue.Jobs()) != 1 || f.queue.Jobs()[0] != transfer.JobOf(s) {
		t.Errorf("jobs = %+v, want exactly JobOf(opened)", f.queue.Jobs())
	}
	// The job names the record, hinted with its transactionId and chain; the
	// processor decides only from the record it reads.
	wantJob := transfer.Job{PublisherID: testPublisher, SynchronizationID: "GENERATED",
		HintTransactionID: testTx, HintOriginalTransactionID: testChain}
	if transfer.JobOf(s) != wantJob {
		t.Errorf("JobOf = %+v, want %+v", transfer.JobOf(s), wantJob)
	}
	if len(f.abandons) != 0 {
		t.Error("Abandon called on success")
	}
	// What the store holds: the record and both locks, leased until now+7m.
	if stored, ok, _ := f.mem.Get(context.Background(), testPublisher, "GENERATED"); !ok || stored != want {
		t.Errorf("stored record = %+v (found %v), want %+v", stored, ok, want)
	}
	wantLocks := []memstore.Lock{
		{Key: transfer.LockKey{PublisherID: testPublisher, TransactionID: testTx}, SynchronizationID: "GENERATED", LeaseUntil: testNow.UTC().Add(7 * time.Minute)},
		{Key: transfer.LockKey{PublisherID: testPublisher, OriginalTransactionID: testChain}, SynchronizationID: "GENERATED", LeaseUntil: testNow.UTC().Add(7 * time.Minute)},
	}
	if locks := f.mem.Locks(); !reflect.DeepEqual(locks, wantLocks) {
		t.Errorf("locks = %+v, want %+v", locks, wantLocks)
	}
}

func TestAcceptDefaultLeaseIsFifteenMinutes(t *testing.T) {
	t.Parallel()
	f := newAcceptFixture(t, livePublisher())
	if _, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: tokenCredential(), Request: validRequest()}); err != nil {
		t.Fatal(err)
	}
	if got, want := f.opens[0].leaseUntil, testNow.Add(transfer.DefaultLockLease); !got.Equal(want) {
		t.Errorf("leaseUntil = %v, want %v", got, want)
	}
	for _, l := range f.mem.Locks() {
		if !l.LeaseUntil.Equal(testNow.Add(transfer.DefaultLockLease)) {
			t.Errorf("lock %+v: lease until %v, want %v", l.Key, l.LeaseUntil, testNow.Add(transfer.DefaultLockLease))
		}
	}
	if transfer.DefaultLockLease != 15*time.Minute {
		t.Errorf("DefaultLockLease = %v", transfer.DefaultLockLease)
	}
}

func TestAcceptCorrelationIDBecomesTheID(t *testing.T) {
	t.Parallel()
	f := newAcceptFixture(t, livePublisher(), transfer.WithIDGenerator(func() string {
		t.Error("the generator must not be used when a Correlation-Id is given")
		return "GENERATED"
	}))
	got, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: tokenCredential(), Request: validRequest(), CorrelationID: "client-id-1"})
	if err != nil {
		t.Fatal(err)
	}
	s := got.Synchronization
	if s.ID != "client-id-1" || s.CorrelationID != "client-id-1" {
		t.Errorf("ID = %q, CorrelationID = %q, want both client-id-1", s.ID, s.CorrelationID)
	}
	if f.queue.Jobs()[0].SynchronizationID != "client-id-1" {
		t.Errorf("job names %q", f.queue.Jobs()[0].SynchronizationID)
	}
}

var base32Text = regexp.MustCompile(`^[A-Z2-7]{26}$`)

func TestAcceptGeneratedIDIsRandom(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		f := newAcceptFixture(t, livePublisher())
		got, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: tokenCredential(), Request: validRequest()})
		if err != nil {
			t.Fatal(err)
		}
		id := got.Synchronization.ID
		// 26 characters of base32 carry 130 bits, over the 122 of a UUIDv4.
		if !base32Text.MatchString(id) {
			t.Fatalf("generated id %q is not 26 base32 characters (crypto/rand.Text)", id)
		}
		if got.Synchronization.CorrelationID != "" {
			t.Errorf("CorrelationID = %q, want empty when none was sent", got.Synchronization.CorrelationID)
		}
		if !transfer.ValidSynchronizationID(id) {
			t.Errorf("generated id %q is not a valid synchronizationId", id)
		}
		if seen[id] {
			t.Fatalf("generated id %q twice", id)
		}
		seen[id] = true
	}
}

func TestAcceptLookupKeys(t *testing.T) {
	t.Parallel()
	t.Run("valid body looks the transaction up with the credential", func(t *testing.T) {
		t.Parallel()
		f := newAcceptFixture(t, livePublisher())
		if _, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: tokenCredential(), Request: validRequest()}); err != nil {
			t.Fatal(err)
		}
		want := transfer.LookupKeys{Publisher: testPublisher, TokenHash: testTokenHash, TransactionID: testTx}
		if len(f.lookups) != 1 || f.lookups[0] != want {
			t.Errorf("lookups = %+v, want exactly %+v", f.lookups, want)
		}
	})
	t.Run("customer JWT has no token hash", func(t *testing.T) {
		t.Parallel()
		f := newAcceptFixture(t, livePublisher())
		if _, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: customerCredential(testTarget), Request: validRequest()}); err != nil {
			t.Fatal(err)
		}
		want := transfer.LookupKeys{Publisher: testPublisher, TransactionID: testTx}
		if len(f.lookups) != 1 || f.lookups[0] != want {
			t.Errorf("lookups = %+v, want exactly %+v", f.lookups, want)
		}
	})
	t.Run("invalid body does not look up its transaction", func(t *testing.T) {
		t.Parallel()
		f := newAcceptFixture(t, livePublisher())
		_, _ = f.acc.Accept(context.Background(), transfer.Intake{
			Credential: tokenCredential(),
			Request:    transfer.Request{TransactionID: "bad tx"},
			BodyError:  transfer.Refuse(transfer.CodeInvalidBody, "bad"),
		})
		want := transfer.LookupKeys{Publisher: testPublisher, TokenHash: testTokenHash}
		if len(f.lookups) != 1 || f.lookups[0] != want {
			t.Errorf("lookups = %+v, want exactly %+v", f.lookups, want)
		}
	})
}

func TestAcceptCustomerJWTIgnoresTokenValidity(t *testing.T) {
	t.Parallel()
	lookup := livePublisher()
	lookup.TokenValid = false // no token was presented
	f := newAcceptFixture(t, lookup)
	if _, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: customerCredential(testTarget), Request: validRequest()}); err != nil {
		t.Fatalf("a JWT of the target customer was refused: %v", err)
	}
}

func TestAcceptReplay(t *testing.T) {
	t.Parallel()
	for _, status := range []transfer.Status{transfer.StatusProcessing, transfer.StatusFinalized} {
		t.Run(string(status), func(t *testing.T) {
			t.Parallel()
			req := validRequest()
			existing := &transfer.Synchronization{
				PublisherID:   testPublisher,
				ID:            "corr-1",
				CorrelationID: "corr-1",
				RequestHash:   req.Fingerprint(),
				TransactionID: testTx,
				Target:        testTarget,
				Status:        status,
				Result:        transfer.ResultTransferred,
				CreatedAt:     testNow.Add(-time.Hour).UTC(),
			}
			f := newAcceptFixture(t, livePublisher())
			// Even with other flags set (the first request holds the locks),
			// the same body under the same id is a replay.
			f.mem.PutSynchronization(*existing)
			f.mem.PutLock(transfer.LockKey{PublisherID: testPublisher, TransactionID: testTx}, "corr-1", testNow.Add(time.Minute))
			f.mem.PutLock(transfer.LockKey{PublisherID: testPublisher, OriginalTransactionID: testChain}, "corr-1", testNow.Add(time.Minute))
			got, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: tokenCredential(), Request: req, CorrelationID: "corr-1"})
			if err != nil {
				t.Fatalf("replay refused: %v", err)
			}
			if !got.Replayed {
				t.Error("Replayed = false")
			}
			if got.Synchronization != *existing {
				t.Errorf("replay returned %+v, want the existing record %+v", got.Synchronization, *existing)
			}
			if len(f.queue.Jobs()) != 0 {
				t.Errorf("a replay enqueued %+v", f.queue.Jobs())
			}
			if len(f.abandons) != 0 {
				t.Error("a replay abandoned something")
			}
			if stored, _, _ := f.mem.Get(context.Background(), testPublisher, "corr-1"); stored != *existing {
				t.Errorf("the replay changed the record: %+v", stored)
			}
			if locks := f.mem.Locks(); len(locks) != 2 || locks[0].SynchronizationID != "corr-1" || locks[1].SynchronizationID != "corr-1" {
				t.Errorf("locks = %+v, want the first request's two", locks)
			}
		})
	}
}

func TestAcceptFailedEnqueueRollsBack(t *testing.T) {
	t.Parallel()
	for _, abandonErr := range []error{nil, errors.New("abandon failed too")} {
		t.Run(fmt.Sprint("abandonErr=", abandonErr), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := newAcceptFixture(t, livePublisher())
			f.abandonErr = abandonErr
			// The request's context is done by the time the enqueue fails
			// (a timeout): the rollback must still run.
			f.queue.SetHook(func(context.Context, transfer.Job) error {
				cancel()
				return errors.New("sqs: AccessDenied arn:aws:sqs:eu-west-1:123456789012:secret-queue")
			})
			got, err := f.acc.Accept(ctx, transfer.Intake{Credential: tokenCredential(), Request: validRequest(), CorrelationID: "c-9"})
			var e *transfer.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want a *transfer.Error", err)
			}
			if e.Code != transfer.CodeQueueFailure {
				t.Errorf("code = %s, want %s", e.Code, transfer.CodeQueueFailure)
			}
			if !isSCode(e.Code) {
				t.Errorf("code %s is not S + 4 digits", e.Code)
			}
			for _, leak := range []string{"sqs", "AccessDenied", "arn:", "secret-queue"} {
				if strings.Contains(e.Message, leak) {
					t.Errorf("message %q leaks %q", e.Message, leak)
				}
			}
			if got != (transfer.Accepted{}) {
				t.Errorf("returned %+v on failure", got)
			}
			if len(f.abandons) != 1 {
				t.Fatalf("Abandon called %d times, want 1", len(f.abandons))
			}
			ab := f.abandons[0]
			if ab.sync != f.opens[0].sync {
				t.Errorf("abandoned %+v, want the opened %+v", ab.sync, f.opens[0].sync)
			}
			if ab.ctxErr != nil {
				t.Errorf("Abandon ran with a done context (%v): the rollback would not happen", ab.ctxErr)
			}
			// It is bounded all the same: the request has its margin to
			// answer left, no more.
			if ab.deadline.IsZero() || time.Until(ab.deadline) > transfer.RollbackGrace {
				t.Errorf("the rollback after the request's end may run until %v, want at most RollbackGrace (%v)", ab.deadline, transfer.RollbackGrace)
			}
			if len(f.queue.Jobs()) != 0 {
				t.Errorf("a failed enqueue recorded %+v", f.queue.Jobs())
			}
			_, kept, _ := f.mem.Get(context.Background(), testPublisher, "c-9")
			if abandonErr == nil {
				// The rollback ran: nothing of the attempt is left.
				f.leftBehind(t, "c-9")
			} else if !kept || len(f.mem.Locks()) != 2 {
				t.Errorf("a failed rollback removed something: record kept %v, locks %+v", kept, f.mem.Locks())
			}
		})
	}
}

// An enqueue that fails while the request still has time: the rollback runs
// within the request's own deadline, not a shorter grace.
func TestAcceptRollbackKeepsTheRequestsDeadline(t *testing.T) {
	t.Parallel()
	end := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	f := newAcceptFixture(t, livePublisher())
	f.queue.SetHook(func(context.Context, transfer.Job) error { return errors.New("sqs: throttled") })
	_, err := f.acc.Accept(ctx, transfer.Intake{Credential: tokenCredential(), Request: validRequest(), CorrelationID: "c-10"})
	if codeOf(t, err) != transfer.CodeQueueFailure {
		t.Fatalf("err = %v, want %s", err, transfer.CodeQueueFailure)
	}
	if len(f.abandons) != 1 || !f.abandons[0].deadline.Equal(end) || f.abandons[0].ctxErr != nil {
		t.Fatalf("abandons = %+v, want one under the request's deadline %v", f.abandons, end)
	}
	f.leftBehind(t, "c-10")
}

var sCode = regexp.MustCompile(`^S[0-9]{4}$`)

func isSCode(c transfer.Code) bool { return sCode.MatchString(string(c)) }

func TestInternalErrorsHideTheirCause(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom-detail")
	e := transfer.Internal(transfer.CodeInternal, cause)
	if strings.Contains(e.Message, "boom-detail") {
		t.Errorf("message %q carries the cause", e.Message)
	}
	if !errors.Is(e, cause) {
		t.Error("the cause is not kept for logs (Unwrap)")
	}
	for _, c := range []transfer.Code{transfer.CodeInternal, transfer.CodeStorageFailure, transfer.CodeQueueFailure} {
		if !isSCode(c) {
			t.Errorf("internal code %s is not S + 4 digits", c)
		}
	}
}

func TestStatusReader(t *testing.T) {
	t.Parallel()
	stored := transfer.Synchronization{PublisherID: testPublisher, ID: "s-1", Target: testTarget, Status: transfer.StatusProcessing}
	deadToken := livePublisher()
	deadToken.TokenValid = false
	noPublisher := livePublisher()
	noPublisher.Publisher = nil

	tests := []struct {
		name     string
		lookup   transfer.Lookup
		lookErr  error
		cred     transfer.Credential
		found    bool
		getErr   error
		wantCode transfer.Code // "" for success
		wantGet  bool
	}{
		{name: "publisher sees its own", lookup: livePublisher(), cred: tokenCredential(), found: true, wantGet: true},
		{name: "target customer sees it", lookup: livePublisher(), cred: customerCredential(testTarget), found: true, wantGet: true},
		{name: "other customer gets not found", lookup: livePublisher(), cred: customerCredential(99), found: true, wantCode: transfer.CodeNotFound, wantGet: true},
		{name: "unknown id", lookup: livePublisher(), cred: tokenCredential(), found: false, wantCode: transfer.CodeNotFound, wantGet: true},
		{name: "dead token", lookup: deadToken, cred: tokenCredential(), found: true, wantCode: transfer.CodeUnauthenticated},
		{name: "unknown publisher", lookup: noPublisher, cred: customerCredential(testTarget), found: true, wantCode: transfer.CodeUnauthenticated},
		{name: "lookup failure", lookup: livePublisher(), lookErr: errors.New("x"), cred: tokenCredential(), wantCode: transfer.CodeStorageFailure},
		{name: "get failure", lookup: livePublisher(), cred: tokenCredential(), getErr: errors.New("x"), wantCode: transfer.CodeStorageFailure, wantGet: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mem := memstore.New(memstore.WithClock(func() time.Time { return testNow }))
			seedLookup(t, mem, tc.lookup)
			if tc.found {
				mem.PutSynchronization(stored)
			}
			var lookups []transfer.LookupKeys
			var gets []getCall
			mem.SetHooks(memstore.Hooks{
				Lookup: func(_ context.Context, keys transfer.LookupKeys) error {
					lookups = append(lookups, keys)
					return tc.lookErr
				},
				Get: func(_ context.Context, p transfer.PublisherID, id string) error {
					gets = append(gets, getCall{publisher: p, id: id})
					return tc.getErr
				},
			})
			got, err := transfer.NewStatusReader(mem, mem).Get(context.Background(), tc.cred, "s-1")
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if got != stored {
					t.Errorf("got %+v", got)
				}
			} else {
				if code := codeOf(t, err); code != tc.wantCode {
					t.Errorf("code = %s, want %s", code, tc.wantCode)
				}
				if got != (transfer.Synchronization{}) {
					t.Errorf("a refusal leaked %+v", got)
				}
			}
			if want := (transfer.LookupKeys{Publisher: tc.cred.Publisher, TokenHash: tc.cred.TokenHash}); len(lookups) != 1 || lookups[0] != want {
				t.Errorf("lookups = %+v, want %+v", lookups, want)
			}
			if tc.wantGet {
				if len(gets) != 1 || gets[0] != (getCall{publisher: testPublisher, id: "s-1"}) {
					t.Errorf("gets = %+v, want one by publisher and id", gets)
				}
			} else if len(gets) != 0 {
				t.Errorf("store read before authentication: %+v", gets)
			}
		})
	}
}
