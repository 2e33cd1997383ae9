package integration_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// TestEveryTransferError sends each error code of docs/contract.md §1 to the
// real stack once, plus the refusals that depend on what storage holds (a
// revoked token, another publisher's customer, a purchase held through its
// other transaction), and checks the code, the HTTP status, and that the
// refusal left no record, no lock and no message behind. Every variant of a
// malformed header or body, and the order of the checks, are proven where
// they are decided: internal/httpapi, internal/transfer and api/.
func TestEveryTransferError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedPublisher(true, false)
	other := e.seedPublisher(true, false)
	inactive := e.seedPublisher(false, false)
	migrating := e.seedPublisher(true, true)
	cs := e.seedCustomers(pub, 3)
	inactiveCustomers := e.seedCustomers(inactive, 1)
	migratingCustomers := e.seedCustomers(migrating, 1)
	signing := e.seedSigningPublisher()
	signingCustomers := e.seedCustomers(signing, 1)
	chain := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour), newTxID(), newTxID())
	held := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour))

	// Locks held by unfinished synchronizations (no processor runs in this test).
	if r := e.transfer(tokenHeader(pub), transferBody(cs[1], chain.TransactionIDs[0])); r.status != http.StatusAccepted {
		t.Fatalf("setup transfer: %d %s", r.status, r.raw)
	}
	used := map[string]string{"X-Publisher-Token": pub.token, "Correlation-Id": "used-" + newTxID()}
	if r := e.transfer(used, transferBody(cs[1], held.TransactionIDs[0])); r.status != http.StatusAccepted {
		t.Fatalf("setup transfer: %d %s", r.status, r.raw)
	}

	revokedToken, revokedHash := auth.NewPublisherToken(pub.id)
	if err := e.svc.Stores.Operator.PutToken(context.Background(), pub.id, revokedHash, "revoked"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Stores.Operator.RevokeToken(context.Background(), pub.id, revokedHash); err != nil {
		t.Fatal(err)
	}
	expiredJWT := mintJWT(t, e.jwtSecret, pub.id, cs[2], -time.Minute)
	freshTx := newTxID()

	cases := []struct {
		name    string
		headers map[string]string
		body    string
		status  int
		code    transfer.Code
		field   string
	}{
		{"no credential", map[string]string{"Content-Type": "application/json"}, transferBody(cs[1], freshTx), 400, transfer.CodeInvalidHeaders, "X-Publisher-Token"},
		{"unknown token", map[string]string{"X-Publisher-Token": "pt_1_" + strings.Repeat("A", 43)}, transferBody(cs[1], freshTx), 401, transfer.CodeUnauthenticated, ""},
		{"revoked token", map[string]string{"X-Publisher-Token": revokedToken}, transferBody(cs[1], freshTx), 401, transfer.CodeUnauthenticated, ""},
		{"expired JWT", map[string]string{"Authorization": "Bearer " + expiredJWT}, transferBody(cs[2], freshTx), 401, transfer.CodeUnauthenticated, ""},
		{"body not JSON", tokenHeader(pub), `{"cleengCustomerId": 1,`, 400, transfer.CodeInvalidBody, "body"},
		{"JWT for another customer", map[string]string{"Authorization": "Bearer " + e.jwt(pub, cs[2])}, transferBody(cs[1], freshTx), 403, transfer.CodeForbidden, "cleengCustomerId"},
		{"JWT without the signed transaction its publisher requires", map[string]string{"Authorization": "Bearer " + e.jwt(signing, signingCustomers[0])}, transferBody(signingCustomers[0], freshTx), 403, transfer.CodeSignedTxRequired, "signedTransactionInfo"},
		{"integration inactive", tokenHeader(inactive), transferBody(inactiveCustomers[0], freshTx), 500, transfer.CodeIntegrationInactive, ""},
		{"migration in progress", tokenHeader(migrating), transferBody(migratingCustomers[0], freshTx), 422, transfer.CodeMigrationInProgress, ""},
		{"unknown customer", tokenHeader(pub), transferBody(transfer.CustomerID(newID()), freshTx), 422, transfer.CodeUnknownCustomer, "cleengCustomerId"},
		{"another publisher's customer", tokenHeader(other), transferBody(cs[1], freshTx), 422, transfer.CodeUnknownCustomer, "cleengCustomerId"},
		{"transaction held", tokenHeader(pub), transferBody(cs[2], chain.TransactionIDs[0]), 409, transfer.CodeTransactionLocked, "transactionId"},
		{"purchase held through its other transaction", tokenHeader(pub), transferBody(cs[2], chain.TransactionIDs[1]), 409, transfer.CodePurchaseLocked, "transactionId"},
		{"Correlation-Id reused for another body", map[string]string{"X-Publisher-Token": pub.token, "Correlation-Id": used["Correlation-Id"]}, transferBody(cs[2], freshTx), 409, transfer.CodeCorrelationIDReused, "Correlation-Id"},
	}

	before := e.items()
	depth := e.queueDepth(e.res.TransferQueueURL())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.transfer(c.headers, c.body)
			assertError(t, r, c.status, c.code, c.field)
		})
	}
	after := e.items()
	for _, kind := range []string{"SYNC", "LOCK"} {
		if len(after[kind]) != len(before[kind]) {
			t.Errorf("refused requests left %d %s items behind", len(after[kind])-len(before[kind]), kind)
		}
	}
	if d := e.queueDepth(e.res.TransferQueueURL()); d != depth {
		t.Errorf("refused requests left %d messages behind", d-depth)
	}
}

// TestEveryStatusError covers docs/contract.md §2's errors on the real stack.
func TestEveryStatusError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	r := e.transfer(tokenHeader(pub), transferBody(cs[1], newTxID()))
	id := r.str("synchronizationId")

	cases := []struct {
		name    string
		path    string
		headers map[string]string
		status  int
		code    transfer.Code
	}{
		{"empty id", "/purchases/synchronizations/", tokenHeader(pub), 400, transfer.CodeInvalidPathParam},
		{"id too long", "/purchases/synchronizations/" + strings.Repeat("a", 257), tokenHeader(pub), 400, transfer.CodeInvalidPathParam},
		{"id with a space", "/purchases/synchronizations/a%20b", tokenHeader(pub), 400, transfer.CodeInvalidPathParam},
		{"no credential", "/purchases/synchronizations/" + id, nil, 400, transfer.CodeInvalidHeaders},
		{"unknown token", "/purchases/synchronizations/" + id, map[string]string{"X-Publisher-Token": "pt_1_" + strings.Repeat("A", 43)}, 401, transfer.CodeUnauthenticated},
		{"unknown id", "/purchases/synchronizations/nope-" + newTxID(), tokenHeader(pub), 404, transfer.CodeNotFound},
		{"JWT of another customer", "/purchases/synchronizations/" + id, map[string]string{"Authorization": "Bearer " + e.jwt(pub, cs[0])}, 404, transfer.CodeNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertError(t, e.do(http.MethodGet, c.path, c.headers, ""), c.status, c.code, "")
		})
	}
	if r := e.status(map[string]string{"Authorization": "Bearer " + e.jwt(pub, cs[1])}, id); r.status != http.StatusOK {
		t.Errorf("target's own JWT: %d %s", r.status, r.raw)
	}
}

// TestEnqueueFailureLeavesNothing makes SendMessage fail: the client gets a
// 500 S#### with a generic message, and the record and locks are rolled back,
// so the client's retry is accepted.
func TestEnqueueFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	var broken brokenQueue
	e := newEnv(t, withQueue(func(q transfer.Queue) transfer.Queue { broken.Queue = q; return &broken }))
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	p := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour))

	broken.fail.Store(true)
	h := map[string]string{"X-Publisher-Token": pub.token, "Correlation-Id": "retry-me-" + newTxID()}
	r := e.transfer(h, transferBody(cs[1], p.TransactionIDs[0]))
	assertError(t, r, 500, transfer.CodeQueueFailure, "")
	if strings.Contains(r.raw, "injected") {
		t.Errorf("internal error text leaked to the client: %s", r.raw)
	}
	items := e.items()
	if len(items["SYNC"]) != 0 || len(items["LOCK"]) != 0 {
		t.Errorf("failed enqueue left records %v and locks %v", items["SYNC"], items["LOCK"])
	}

	broken.fail.Store(false)
	if r := e.transfer(h, transferBody(cs[1], p.TransactionIDs[0])); r.status != http.StatusAccepted {
		t.Errorf("retry after a failed enqueue: %d %s", r.status, r.raw)
	}
}

func assertError(t *testing.T, r response, status int, code transfer.Code, field string) {
	t.Helper()
	if r.status != status || r.code() != string(code) {
		t.Fatalf("got %d %s, want %d %s: %s", r.status, r.code(), status, code, r.raw)
	}
	if r.str("message") == "" || r.str("requestId") == "" {
		t.Errorf("error body lacks message or requestId: %s", r.raw)
	}
	if field != "" && !strings.Contains(r.raw, `"field":"`+field+`"`) {
		t.Errorf("details do not name %s: %s", field, r.raw)
	}
}

type brokenQueue struct {
	transfer.Queue
	fail atomic.Bool
}

func (b *brokenQueue) Enqueue(ctx context.Context, job transfer.Job) error {
	if b.fail.Load() {
		return errors.New("injected enqueue failure")
	}
	return b.Queue.Enqueue(ctx, job)
}

func mintJWT(t *testing.T, secret []byte, p transfer.PublisherID, c transfer.CustomerID, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.MintHS256(secret, p, c, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestStorageFailureIsAnInternalError points the service at a table that
// does not exist: both endpoints answer 500 S0002 with a generic message,
// never the AWS error's text.
func TestStorageFailureIsAnInternalError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)

	cfg := e.svc.Config
	cfg.TableName = "no-such-table-" + newTxID()
	broken := inprocess.New(cfg, stack.Clients)
	srv := httptest.NewServer(broken.Handler(broken.Queue(stack.Clients)))
	t.Cleanup(srv.Close)
	e.server = srv

	for name, r := range map[string]response{
		"transfer": e.transfer(tokenHeader(pub), transferBody(cs[1], newTxID())),
		"status":   e.status(tokenHeader(pub), "any-"+newTxID()),
	} {
		assertError(t, r, 500, transfer.CodeStorageFailure, "")
		if strings.Contains(r.raw, "ResourceNotFound") || strings.Contains(r.raw, "no-such-table") {
			t.Errorf("%s: the storage error leaked to the client: %s", name, r.raw)
		}
	}
}
