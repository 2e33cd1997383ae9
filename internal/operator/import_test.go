package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/acme/purchase-transfer/internal/transfer"
)

func TestParseLineAcceptsTheDocumentedShapes(t *testing.T) {
	e, err := parseLine(7, []byte(`{"type":"customer","cleengCustomerId":9223372036854775807}`))
	if err != nil || e.Customer != 9223372036854775807 || e.Purchase != nil {
		t.Fatalf("customer: %+v %v", e, err)
	}
	e, err = parseLine(7, []byte(`{"type":"purchase","cleengCustomerId":5,"originalTransactionId":"a.1","transactionIds":["b-2","a.1","b-2"],`+
		`"offerId":"S1","productId":"p","kind":"non-consumable","state":"revoked"}`))
	if err != nil {
		t.Fatal(err)
	}
	p := e.Purchase
	if p.PublisherID != 7 || p.Owner != 5 || e.Customer != 5 || strings.Join(p.TransactionIDs, ",") != "a.1,b-2" ||
		p.Kind != transfer.KindNonConsumable || p.State != transfer.StateRevoked || !p.ExpiresAt.IsZero() {
		t.Fatalf("purchase: %+v", p)
	}
}

func TestParseLineExplainsMistakes(t *testing.T) {
	for line, want := range map[string]string{
		`not json`: "not valid JSON",
		`[1]`:      "expected a JSON object",
		`{"type":"customer","cleengCustomerId":1} {}`:                                                              "more than one JSON value",
		`{"type":"customer"}`:                                                                                      "cleengCustomerId must be a positive integer",
		`{"type":"customer","cleengCustomerId":"1"}`:                                                               "cleengCustomerId: expected an integer",
		`{"type":"customer","cleengCustomerId":1.5}`:                                                               "cleengCustomerId: expected an integer",
		`{"cleengCustomerId":1}`:                                                                                   "type is required",
		`{"type":"shop","cleengCustomerId":1}`:                                                                     `type "shop"`,
		`{"type":"customer","cleengCustomerId":1,"x":1}`:                                                           `unknown field "x"`,
		`{"type":"customer","cleengCustomerId":1,"offerId":"o"}`:                                                   "has only type and cleengCustomerId",
		`{"type":"purchase","cleengCustomerId":1}`:                                                                 "originalTransactionId is required",
		`{"type":"purchase","cleengCustomerId":1,"originalTransactionId":"a","transactionIds":["a b"]}`:            "transactionIds",
		`{"type":"purchase","cleengCustomerId":1,"originalTransactionId":"a","transactionIds":"a"}`:                "transactionIds: expected an array",
		`{"type":"purchase","cleengCustomerId":1,"originalTransactionId":"a","kind":"x","state":"active"}`:         "offerId is required",
		`{"type":"purchase","cleengCustomerId":1,"originalTransactionId":"a","offerId":"o","state":"active"}`:      `kind ""`,
		`{"type":"purchase","cleengCustomerId":1,"originalTransactionId":"a","offerId":"o","kind":"non-renewing"}`: `state ""`,
		`{"type":"purchase","cleengCustomerId":1,"originalTransactionId":"a","offerId":"o","kind":"non-renewing","state":"active","expiresAt":"2030-01-01"}`: "expiresAt: not an RFC 3339 time",
	} {
		_, err := parseLine(1, []byte(line))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", line, err, want)
		}
	}
}

// memoryStore is an ImportStore that keeps what was inserted.
type memoryStore struct {
	mu        sync.Mutex
	customers map[transfer.CustomerID]bool
	purchases map[string]transfer.Purchase
	calls     int
	fail      error
}

func newMemoryStore() *memoryStore {
	return &memoryStore{customers: map[transfer.CustomerID]bool{}, purchases: map[string]transfer.Purchase{}}
}

func (m *memoryStore) ImportChunk(_ context.Context, _ transfer.PublisherID, entries []Entry, update bool) ([]Outcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.fail != nil {
		return nil, m.fail
	}
	out := make([]Outcome, len(entries))
	for i, e := range entries {
		if e.Customer != 0 && !m.customers[e.Customer] {
			m.customers[e.Customer] = true
			out[i].CustomerCreated = true
		}
		if e.Purchase == nil {
			continue
		}
		cur, ok := m.purchases[e.Purchase.OriginalTransactionID]
		if !ok {
			m.purchases[e.Purchase.OriginalTransactionID] = *e.Purchase
			out[i].PurchaseCreated = true
			continue
		}
		if rec := Reconcile(cur, *e.Purchase, update); rec.Changed() {
			rec.Next.Version++
			m.purchases[e.Purchase.OriginalTransactionID] = rec.Next
			out[i].PurchaseAssigned, out[i].PurchaseUpdated = rec.Assign, rec.Update
		}
	}
	return out, nil
}

func purchaseJSON(owner int, otx string, txs ...string) string {
	quoted := make([]string, len(txs))
	for i, tx := range txs {
		quoted[i] = fmt.Sprintf("%q", tx)
	}
	return fmt.Sprintf(`{"type":"purchase","cleengCustomerId":%d,"originalTransactionId":%q,"transactionIds":[%s],"offerId":"o","kind":"auto-renewable","state":"active"}`,
		owner, otx, strings.Join(quoted, ","))
}

func TestImportAppliesTheRulesThatSpanLines(t *testing.T) {
	input := strings.Join([]string{
		`{"type":"customer","cleengCustomerId":1}`,
		purchaseJSON(1, "p1", "t1"),
		``,
		purchaseJSON(2, "p2", "t1"), // t1 is p1's
		purchaseJSON(2, "p1"),       // p1 twice
		purchaseJSON(2, "p3", "t3"),
		`{"type":"customer","cleengCustomerId":2}`, // already created by line 6
	}, "\n")
	store := newMemoryStore()
	var last Progress
	report, err := NewImporter(store, WithProgress(func(p Progress) { last = p })).Import(context.Background(), 1, strings.NewReader(input), int64(len(input)))
	if err != nil {
		t.Fatal(err)
	}
	if report.Lines != 7 || report.PurchasesCreated != 2 || report.CustomersCreated != 2 || report.CustomersExisting != 0 {
		t.Errorf("report: %+v", report)
	}
	if len(report.Invalid) != 2 || report.Invalid[0].Line != 4 || !strings.Contains(report.Invalid[0].Reason, "belongs to purchase p1 (line 2)") ||
		report.Invalid[1].Line != 5 || !strings.Contains(report.Invalid[1].Reason, "already on line 2") {
		t.Errorf("invalid: %+v", report.Invalid)
	}
	if last.Lines != 7 || last.Bytes != int64(len(input)) || last.TotalBytes != int64(len(input)) {
		t.Errorf("last progress %+v", last)
	}
	again, err := NewImporter(store).Import(context.Background(), 1, strings.NewReader(input), 0)
	if err != nil || again.PurchasesCreated != 0 || again.PurchasesUnchanged != 2 || again.CustomersExisting != 2 {
		t.Errorf("re-import: %+v %v", again, err)
	}
}

func TestImportSpreadsChunksOverWorkers(t *testing.T) {
	var b strings.Builder
	for i := range 1050 {
		fmt.Fprintln(&b, purchaseJSON(i%10+1, fmt.Sprintf("p%d", i)))
	}
	store := newMemoryStore()
	report, err := NewImporter(store, WithWorkers(4)).Import(context.Background(), 1, strings.NewReader(b.String()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if report.PurchasesCreated != 1050 || report.CustomersCreated != 10 || store.calls != 11 {
		t.Errorf("report %+v after %d chunks", report, store.calls)
	}
}

func TestImportStopsOnAStorageFailure(t *testing.T) {
	store := newMemoryStore()
	store.fail = errors.New("throttled for good")
	_, err := NewImporter(store).Import(context.Background(), 1, strings.NewReader(purchaseJSON(1, "p1")), 0)
	if err == nil || !strings.Contains(err.Error(), "throttled for good") || !strings.Contains(err.Error(), "run the import again") {
		t.Fatalf("want the storage error and advice, got %v", err)
	}
}
