package integration_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// TestEveryResult drives one transfer to each result of docs/contract.md §3 through the
// HTTP API, the queue and the processor, and checks the stored effects.
func TestEveryResult(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startProcessor()
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 3)
	a, b := cs[0], cs[1]
	future := time.Now().Add(30 * 24 * time.Hour)

	t.Run("PURCHASE_OWNERSHIP_TRANSFERRED", func(t *testing.T) {
		p := e.seedPurchase(pub, a, transfer.StateActive, future)
		body := `{"cleengCustomerId": ` + itoa(b) + `, "transactionId": "` + p.TransactionIDs[0] + `", "ipAddress": "203.0.113.7"}`
		r := e.transfer(tokenHeader(pub), body)
		if r.status != http.StatusAccepted {
			t.Fatalf("transfer: %d %s", r.status, r.raw)
		}
		id := r.str("synchronizationId")
		if len(id) < 26 {
			t.Errorf("generated synchronizationId %q is shorter than 26 characters (130 random bits)", id)
		}
		if got, want := r.header.Get("Location"), "/purchases/synchronizations/"+id; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
		s := e.waitFinalized(tokenHeader(pub), id)
		assertFinal(t, s, transfer.ResultTransferred, true, p.OfferID)

		purchase := e.purchase(pub, p.OriginalTransactionID)
		if purchase.Owner != b || purchase.Version != 1 {
			t.Errorf("purchase owner %d version %d, want owner %d version 1", purchase.Owner, purchase.Version, b)
		}
		hist := e.history(pub, p.OriginalTransactionID)
		if len(hist) != 1 || transfer.CustomerID(hist[0].From) != a || transfer.CustomerID(hist[0].To) != b || hist[0].SynchronizationID != id {
			t.Errorf("history = %+v, want one entry %d -> %d by %s", hist, a, b, id)
		}
		cust, err := e.svc.Stores.Operator.Customer(context.Background(), pub.id, b)
		if err != nil || cust == nil || cust.LastIPAddress != "203.0.113.7" || cust.LastActivityAt == nil {
			t.Errorf("target customer activity not recorded: %+v %v", cust, err)
		}
		if len(e.items()["LOCK"]) != 0 {
			t.Errorf("locks left after finalization: %v", e.items()["LOCK"])
		}
	})

	t.Run("PURCHASE_OWNERSHIP_UNCHANGED", func(t *testing.T) {
		p := e.seedPurchase(pub, a, transfer.StateActive, future)
		r := e.transfer(tokenHeader(pub), transferBody(a, p.TransactionIDs[0]))
		s := e.waitFinalized(tokenHeader(pub), r.str("synchronizationId"))
		assertFinal(t, s, transfer.ResultUnchanged, true, p.OfferID)
		if len(e.history(pub, p.OriginalTransactionID)) != 0 {
			t.Error("an unchanged purchase got a history entry")
		}
	})

	t.Run("RECEIVED_EXPIRED_PURCHASE", func(t *testing.T) {
		for name, p := range map[string]transfer.Purchase{
			"expired state":   e.seedPurchase(pub, a, transfer.StateExpired, time.Now().Add(-time.Hour)),
			"revoked":         e.seedPurchase(pub, a, transfer.StateRevoked, future),
			"past its expiry": e.seedPurchase(pub, a, transfer.StateActive, time.Now().Add(-time.Minute)),
		} {
			r := e.transfer(tokenHeader(pub), transferBody(b, p.TransactionIDs[0]))
			s := e.waitFinalized(tokenHeader(pub), r.str("synchronizationId"))
			assertFinal(t, s, transfer.ResultExpired, false, "")
			if owner := e.purchase(pub, p.OriginalTransactionID).Owner; owner != a {
				t.Errorf("%s: owner changed to %d", name, owner)
			}
		}
	})

	t.Run("TRANSACTION_ID_NOT_FOUND", func(t *testing.T) {
		r := e.transfer(tokenHeader(pub), transferBody(b, newTxID()))
		s := e.waitFinalized(tokenHeader(pub), r.str("synchronizationId"))
		assertFinal(t, s, transfer.ResultNotFound, false, "")
	})

	t.Run("a chain transfers by any of its transactionIds", func(t *testing.T) {
		p := e.seedPurchase(pub, a, transfer.StateActive, future, newTxID(), newTxID())
		r := e.transfer(tokenHeader(pub), transferBody(b, p.TransactionIDs[1]))
		s := e.waitFinalized(tokenHeader(pub), r.str("synchronizationId"))
		assertFinal(t, s, transfer.ResultTransferred, true, p.OfferID)
	})

	t.Run("customer JWT pulls a purchase to itself", func(t *testing.T) {
		p := e.seedPurchase(pub, a, transfer.StateActive, future)
		h := map[string]string{"Authorization": "Bearer " + e.jwt(pub, cs[2]), "Correlation-Id": "jwt-" + newTxID()}
		r := e.transfer(h, transferBody(cs[2], p.TransactionIDs[0]))
		if r.status != http.StatusAccepted || r.str("synchronizationId") != h["Correlation-Id"] {
			t.Fatalf("transfer: %d %s", r.status, r.raw)
		}
		s := e.waitFinalized(h, h["Correlation-Id"])
		assertFinal(t, s, transfer.ResultTransferred, true, p.OfferID)
		if s.str("correlationId") != h["Correlation-Id"] {
			t.Errorf("correlationId = %q, want %q", s.str("correlationId"), h["Correlation-Id"])
		}
	})
}

// TestTransferFailedAfterRetries makes every processing attempt fail: the
// record shows retrying, then is finalized TRANSFER_FAILED with its locks
// released, and the message lands in the dead-letter queue.
func TestTransferFailedAfterRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFastRetries(2))
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	p := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour))

	r := e.transfer(tokenHeader(pub), transferBody(cs[1], p.TransactionIDs[0]))
	if r.status != http.StatusAccepted {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	id := r.str("synchronizationId")

	failing := &failingStore{WorkStore: e.svc.Stores.Work, failFinalize: func(f transfer.Finalization) bool {
		return f.Sync.Result != transfer.ResultTransferFailed
	}}
	e.runPoller(queueHandler(transfer.NewProcessor(failing, transfer.WithMaxReceives(2))))

	testkit.Eventually(t, "status retrying", 10*time.Second, func() bool {
		s := e.status(tokenHeader(pub), id)
		return s.str("status") == string(transfer.StatusRetrying) || s.str("status") == string(transfer.StatusFinalized)
	})
	s := e.waitFinalized(tokenHeader(pub), id)
	assertFinal(t, s, transfer.ResultTransferFailed, false, "")
	if owner := e.purchase(pub, p.OriginalTransactionID).Owner; owner != cs[0] {
		t.Errorf("owner changed on TRANSFER_FAILED: %d", owner)
	}
	if locks := e.items()["LOCK"]; len(locks) != 0 {
		t.Errorf("locks left after TRANSFER_FAILED: %v", locks)
	}
	testkit.Eventually(t, "message in the dead-letter queue", 15*time.Second, func() bool {
		return e.queueDepth(e.res.TransferDLQURL()) == 1
	})
	// The purchase is free again: a new transfer is accepted.
	if r := e.transfer(tokenHeader(pub), transferBody(cs[1], p.TransactionIDs[0])); r.status != http.StatusAccepted {
		t.Errorf("transfer after TRANSFER_FAILED: %d %s", r.status, r.raw)
	}
}

func assertFinal(t *testing.T, s response, result transfer.Result, granted bool, offer string) {
	t.Helper()
	if s.str("result") != string(result) {
		t.Errorf("result = %q, want %q (%s)", s.str("result"), result, s.raw)
	}
	if g, ok := s.body["accessGranted"].(bool); !ok || g != granted {
		t.Errorf("accessGranted = %v, want %v", s.body["accessGranted"], granted)
	}
	if got, present := s.body["offerId"]; granted && got != offer || !granted && present {
		t.Errorf("offerId = %v (present %v), want %q only when access is granted", got, present, offer)
	}
}

// failingStore fails Finalize for the finalizations chosen, as an outage would.
type failingStore struct {
	transfer.WorkStore
	failFinalize func(transfer.Finalization) bool
}

func (f *failingStore) Finalize(ctx context.Context, fin transfer.Finalization) error {
	if f.failFinalize(fin) {
		return errInjected
	}
	return f.WorkStore.Finalize(ctx, fin)
}

type injectedError struct{}

func (injectedError) Error() string { return "injected failure" }

var errInjected = injectedError{}

func itoa(c transfer.CustomerID) string { return strconv.FormatInt(int64(c), 10) }
