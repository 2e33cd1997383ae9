package transfer_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

const testBundle = "com.example.streaming"

// signer is a local Apple-like authority and the adapter that trusts it, as
// the transfer Lambda wires Apple's root.
type signer struct {
	a      *localroot.Authority
	verify httpapi.SignedTransactions
	calls  atomic.Int32
}

func newSigner(t *testing.T) *signer {
	t.Helper()
	a, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	v, err := apple.NewVerifier(apple.WithRoots(a.Pool()))
	if err != nil {
		t.Fatal(err)
	}
	return &signer{a: a, verify: httpapi.SignedTransactions{Verifier: v}}
}

// VerifySignedTransaction counts the calls, so a test can prove the check
// did not run.
func (s *signer) VerifySignedTransaction(ctx context.Context, jws string, app transfer.AppleApp) (transfer.SignedTransaction, error) {
	s.calls.Add(1)
	return s.verify.VerifySignedTransaction(ctx, jws, app)
}

// tx is an Apple-shaped transaction of the test app.
func tx(id, original string) apple.TransactionInfo {
	now := time.Now().UnixMilli()
	return apple.TransactionInfo{
		TransactionID: id, OriginalTransactionID: original, BundleID: testBundle,
		ProductID: "com.example.premium.monthly", Type: "Auto-Renewable Subscription",
		PurchaseDate: now, SignedDate: now, Environment: apple.EnvironmentProduction,
	}
}

func (s *signer) sign(t *testing.T, info apple.TransactionInfo) string {
	t.Helper()
	jws, err := s.a.Sign(info)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func testApple() *transfer.AppleApp {
	return &transfer.AppleApp{BundleID: testBundle, AppAppleID: 1234567890, Environments: []string{transfer.EnvironmentProduction}}
}

// requiringPublisher is livePublisher with an Apple app that requires a
// signed transaction of customer tokens.
func requiringPublisher() transfer.Lookup {
	l := livePublisher()
	l.Publisher = &transfer.Publisher{ID: testPublisher, StoreKit2Active: true, RequireSignedTransaction: true, Apple: testApple()}
	return l
}

func signedRequest(jws string) transfer.Request {
	r := validRequest()
	r.SignedTransactionInfo = jws
	return r
}

// refusedFor asserts an AUTH0004 whose one detail names signedTransactionInfo and says why.
func refusedFor(t *testing.T, err error, why string) {
	t.Helper()
	var e *transfer.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want AUTH0004", err)
	}
	if e.Code != transfer.CodeSignedTxRequired {
		t.Fatalf("code = %s, want %s (%v)", e.Code, transfer.CodeSignedTxRequired, err)
	}
	if len(e.Details) != 1 || e.Details[0].Field != "signedTransactionInfo" || !strings.Contains(e.Details[0].Message, why) {
		t.Errorf("details = %+v, want one naming signedTransactionInfo and saying %q", e.Details, why)
	}
}

func TestSignedTransactionRefusals(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	other, err := localroot.New() // signs like Apple, but under a root nobody trusts
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Sign(tx(testTx, testChain))
	if err != nil {
		t.Fatal(err)
	}
	otherBundle := tx(testTx, testChain)
	otherBundle.BundleID = "com.example.other"
	sandbox := tx(testTx, testChain)
	sandbox.Environment = apple.EnvironmentSandbox
	tampered, err := localroot.ReplaceInPayload(s.sign(t, tx("tx-9", "otx-9")), "otx-9", testChain)
	if err != nil {
		t.Fatal(err)
	}
	noApp := requiringPublisher()
	noApp.Publisher.Apple = nil

	tests := []struct {
		name   string
		lookup transfer.Lookup
		jws    string
		why    string
	}{
		{"missing", requiringPublisher(), "", "is required"},
		{"not a JWS", requiringPublisher(), "not-a-jws", "does not verify"},
		{"under another root", requiringPublisher(), foreign, "does not verify"},
		{"payload changed after signing", requiringPublisher(), tampered, "does not verify"},
		{"another bundleId", requiringPublisher(), s.sign(t, otherBundle), "another app"},
		{"an environment the app does not accept", requiringPublisher(), s.sign(t, sandbox), "another app"},
		{"another chain", requiringPublisher(), s.sign(t, tx("tx-other", "otx-other")), "another purchase"},
		{"another chain of a transaction the directory does not know", func() transfer.Lookup {
			l := requiringPublisher()
			l.OriginalTransactionID = ""
			return l
		}(), s.sign(t, tx("tx-other", testChain)), "another purchase"},
		{"publisher without an Apple app", noApp, s.sign(t, tx(testTx, testChain)), "no Apple app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newAcceptFixture(t, tc.lookup, transfer.WithSignedTransactionVerifier(s))
			got, err := f.acc.Accept(context.Background(), transfer.Intake{
				Credential: customerCredential(testTarget), Request: signedRequest(tc.jws), CorrelationID: "c-signed",
			})
			refusedFor(t, err, tc.why)
			if got != (transfer.Accepted{}) {
				t.Errorf("a refusal returned %+v", got)
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("the error quotes the JWS: %v", err)
			}
			if len(f.opens) != 0 || len(f.queue.Jobs()) != 0 {
				t.Errorf("a refused request reached storage (%d opens) or the queue (%v)", len(f.opens), f.queue.Jobs())
			}
			f.leftBehind(t, "c-signed")
		})
	}
}

func TestSignedTransactionWithoutVerifierIsRefused(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	f := newAcceptFixture(t, requiringPublisher()) // no WithSignedTransactionVerifier
	_, err := f.acc.Accept(context.Background(), transfer.Intake{
		Credential: customerCredential(testTarget), Request: signedRequest(s.sign(t, tx(testTx, testChain))),
	})
	refusedFor(t, err, "cannot be verified")
	f.leftBehind(t, "")
}

// TestSignedTransactionSameChain: each of the three ways a signed transaction
// names the requested purchase is accepted.
func TestSignedTransactionSameChain(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	unknownChain := requiringPublisher()
	unknownChain.OriginalTransactionID = ""
	tests := []struct {
		name   string
		lookup transfer.Lookup
		info   apple.TransactionInfo
	}{
		{"the requested transaction itself", requiringPublisher(), tx(testTx, testChain)},
		{"its chain is named by the requested transactionId", unknownChain, tx("tx-renewal", testTx)},
		{"its chain is the one the directory resolved", requiringPublisher(), tx("tx-renewal", testChain)},
		{"the requested transaction, chain unknown to the directory", unknownChain, tx(testTx, "otx-elsewhere")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newAcceptFixture(t, tc.lookup, transfer.WithSignedTransactionVerifier(s))
			got, err := f.acc.Accept(context.Background(), transfer.Intake{
				Credential: customerCredential(testTarget), Request: signedRequest(s.sign(t, tc.info)),
			})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(f.queue.Jobs()) != 1 || got.Synchronization.TransactionID != testTx {
				t.Errorf("accepted %+v, jobs %v", got.Synchronization, f.queue.Jobs())
			}
		})
	}
}

// TestSignedTransactionIgnored: publisher tokens never need the field, and
// publishers that do not require it never look at it — the verifier is not
// even called.
func TestSignedTransactionIgnored(t *testing.T) {
	t.Parallel()
	notRequired := requiringPublisher()
	notRequired.Publisher.RequireSignedTransaction = false
	tests := []struct {
		name   string
		lookup transfer.Lookup
		cred   transfer.Credential
		jws    string
	}{
		{"publisher token, field absent", requiringPublisher(), tokenCredential(), ""},
		{"publisher token, field that does not verify", requiringPublisher(), tokenCredential(), "garbage"},
		{"not required, customer JWT without the field", notRequired, customerCredential(testTarget), ""},
		{"not required, customer JWT with a field that does not verify", notRequired, customerCredential(testTarget), "garbage"},
		{"not required and no Apple app", livePublisher(), customerCredential(testTarget), "garbage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSigner(t)
			f := newAcceptFixture(t, tc.lookup, transfer.WithSignedTransactionVerifier(s))
			if _, err := f.acc.Accept(context.Background(), transfer.Intake{Credential: tc.cred, Request: signedRequest(tc.jws)}); err != nil {
				t.Fatalf("refused: %v", err)
			}
			if n := s.calls.Load(); n != 0 {
				t.Errorf("the verifier was called %d times", n)
			}
		})
	}
}

// TestSignedTransactionCheckOrder: AUTH0004 comes after REQ0001 and AUTH0003
// and before SK2C0004, SK2C0005 and the storage conflicts (docs/contract.md §1.6).
func TestSignedTransactionCheckOrder(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	inactive := requiringPublisher()
	inactive.Publisher.StoreKit2Active = false
	migrating := requiringPublisher()
	migrating.Publisher.MigrationInProgress = true
	bodyErr := transfer.Refuse(transfer.CodeInvalidBody, "bad", transfer.FieldError{Field: "transactionId", Message: "is required"})
	tests := []struct {
		name    string
		lookup  transfer.Lookup
		in      transfer.Intake
		openErr error
		want    transfer.Code
	}{
		{"bad body before AUTH0004", requiringPublisher(), transfer.Intake{Credential: customerCredential(testTarget), BodyError: bodyErr}, nil, transfer.CodeInvalidBody},
		{"AUTH0003 before AUTH0004", requiringPublisher(), transfer.Intake{Credential: customerCredential(99), Request: validRequest()}, nil, transfer.CodeForbidden},
		{"AUTH0004 before SK2C0004", inactive, transfer.Intake{Credential: customerCredential(testTarget), Request: validRequest()}, nil, transfer.CodeSignedTxRequired},
		{"AUTH0004 before SK2C0005", migrating, transfer.Intake{Credential: customerCredential(testTarget), Request: validRequest()}, nil, transfer.CodeSignedTxRequired},
		{"AUTH0004 before the conflicts", requiringPublisher(), transfer.Intake{Credential: customerCredential(testTarget), Request: validRequest()},
			&transfer.OpenConflict{CustomerMissing: true, TransactionLocked: true}, transfer.CodeSignedTxRequired},
		{"a valid one passes on to SK2C0004", inactive, transfer.Intake{Credential: customerCredential(testTarget), Request: signedRequest(s.sign(t, tx(testTx, testChain)))}, nil, transfer.CodeIntegrationInactive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newAcceptFixture(t, tc.lookup, transfer.WithSignedTransactionVerifier(s))
			f.openErr = tc.openErr
			_, err := f.acc.Accept(context.Background(), tc.in)
			if err == nil {
				t.Fatalf("accepted, want %s", tc.want)
			}
			if code := codeOf(t, err); code != tc.want {
				t.Fatalf("code = %s, want %s (%v)", code, tc.want, err)
			}
			if len(f.opens) != 0 {
				t.Errorf("Open called on a request refused before storage")
			}
		})
	}
}

// TestSignedTransactionIsNotFingerprinted: the proof is not part of the
// request, so a replay from another device (its own signed transaction) is
// the same request, and nothing of the JWS is stored.
func TestSignedTransactionIsNotFingerprinted(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	first, second := signedRequest(s.sign(t, tx(testTx, testChain))), signedRequest(s.sign(t, tx("tx-renewal", testChain)))
	if first.Fingerprint() != second.Fingerprint() || first.Fingerprint() != validRequest().Fingerprint() {
		t.Fatal("the signedTransactionInfo changes the request's fingerprint")
	}
	f := newAcceptFixture(t, requiringPublisher(), transfer.WithSignedTransactionVerifier(s))
	in := transfer.Intake{Credential: customerCredential(testTarget), Request: first, CorrelationID: "from-device-1"}
	a, err := f.acc.Accept(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	in.Request = second
	b, err := f.acc.Accept(context.Background(), in)
	if err != nil {
		t.Fatalf("replay from another device refused: %v", err)
	}
	if !b.Replayed || b.Synchronization.ID != a.Synchronization.ID {
		t.Errorf("replay = %+v, want the first synchronization replayed", b)
	}
	if len(f.queue.Jobs()) != 1 {
		t.Errorf("jobs = %v, want one", f.queue.Jobs())
	}
	// A replay still proves possession: without the field it is refused.
	in.Request = validRequest()
	_, err = f.acc.Accept(context.Background(), in)
	refusedFor(t, err, "is required")
}
