package main

import (
	"fmt"
	"strings"
	"testing"
)

// chainLine is an import line of an active purchase of customer 920000001.
func chainLine(otx string, txs ...string) string {
	quoted := make([]string, len(txs))
	for i, tx := range txs {
		quoted[i] = fmt.Sprintf("%q", tx)
	}
	return fmt.Sprintf(`{"type":"purchase","cleengCustomerId":920000001,"originalTransactionId":%q,"transactionIds":[%s],`+
		`"offerId":"S1_US","kind":"auto-renewable","state":"active","expiresAt":"2036-01-01T00:00:00Z"}`,
		otx, strings.Join(quoted, ","))
}

// TestPurchaseShowByEitherTransactionId: a purchase's originalTransactionId
// (which has no transaction→chain mapping) and its other transactionIds all
// show the same purchase.
func TestPurchaseShowByEitherTransactionId(t *testing.T) {
	f := newFixture(t)
	id, _ := f.createPublisher()
	pid := fmt.Sprint(id)
	f.importJSON(id, f.writeFile("chains.jsonl", chainLine("4100000000000001", "4100000000000002")+"\n"+chainLine("4100000000000011")+"\n"), exitOK)

	for tx, otx := range map[string]string{
		"4100000000000001": "4100000000000001",
		"4100000000000002": "4100000000000001",
		"4100000000000011": "4100000000000011",
	} {
		shown := f.ok("purchase", "show", "--publisher", pid, tx).stdout
		if !hasRow(shown, "Purchase (originalTransactionId)", otx) || !hasRow(shown, "Owner (cleengCustomerId)", "920000001") {
			t.Errorf("purchase show %s:\n%s", tx, shown)
		}
		var got struct {
			OriginalTransactionID string `json:"originalTransactionId"`
		}
		f.okJSON(&got, "purchase", "show", "--publisher", pid, tx)
		if got.OriginalTransactionID != otx {
			t.Errorf("purchase show --json %s: originalTransactionId %q, want %s", tx, got.OriginalTransactionID, otx)
		}
	}
	if r := f.ctl("purchase", "show", "--publisher", pid, "4100000000000003"); r.code != exitFailed {
		t.Errorf("purchase show of an unknown transactionId: want exit 1, got %v", r)
	}
}

// TestImportRefusesTransactionIdsOfStoredChains: a transactionId claimed by
// two chains is refused across runs too, in both directions that involve an
// originalTransactionId (which has no mapping to find it by), and nothing of
// a refused purchase is written.
func TestImportRefusesTransactionIdsOfStoredChains(t *testing.T) {
	f := newFixture(t)
	id, _ := f.createPublisher()
	pid := fmt.Sprint(id)
	first := strings.Join([]string{
		chainLine("4200000000000001", "4200000000000002"),
		chainLine("4200000000000011"),
		chainLine("4200000000000051", "4200000000000052"),
		chainLine("4200000000000061"),
	}, "\n") + "\n"
	if r := f.importJSON(id, f.writeFile("first.jsonl", first), exitOK); r.PurchasesCreated != 4 {
		t.Fatalf("first import: %+v", r)
	}

	// No line of this file conflicts with another line of it (that is
	// refused before anything is read): only with what the first stored.
	second := strings.Join([]string{
		chainLine("4200000000000021", "4200000000000011"), // another chain's originalTransactionId
		chainLine("4200000000000002", "4200000000000022"), // another chain's transactionId as originalTransactionId
		chainLine("4200000000000031", "4200000000000052"), // another chain's transactionId (mapped)
		chainLine("4200000000000041", "4200000000000042"), // new
		chainLine("4200000000000061"),                     // already there
	}, "\n") + "\n"
	report, stderr := f.importWithProgress(id, f.writeFile("second.jsonl", second), exitPartial)
	if report.PurchasesCreated != 1 || report.PurchasesUnchanged != 1 || len(report.Invalid) != 3 {
		t.Fatalf("second import: %+v", report)
	}
	for _, want := range []string{
		":1: transactionId 4200000000000011 already belongs to stored purchase 4200000000000011",
		":2: originalTransactionId 4200000000000002 already belongs to stored purchase 4200000000000001",
		":3: transactionId 4200000000000052 already belongs to stored purchase 4200000000000051",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	// The stored chains are unchanged, the refused ones absent, the new one there.
	for tx, otx := range map[string]string{
		"4200000000000002": "4200000000000001",
		"4200000000000011": "4200000000000011",
		"4200000000000052": "4200000000000051",
		"4200000000000042": "4200000000000041",
	} {
		var got struct {
			OriginalTransactionID string `json:"originalTransactionId"`
		}
		f.okJSON(&got, "purchase", "show", "--publisher", pid, tx)
		if got.OriginalTransactionID != otx {
			t.Errorf("%s names %q, want %s", tx, got.OriginalTransactionID, otx)
		}
	}
	for _, tx := range []string{"4200000000000021", "4200000000000022", "4200000000000031"} {
		if r := f.ctl("purchase", "show", "--publisher", pid, tx); r.code != exitFailed {
			t.Errorf("refused purchase's %s is stored: %v", tx, r)
		}
	}
}
