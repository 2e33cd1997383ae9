package operator

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// FuzzImportLine parses whatever an import file's line could hold. A line is
// refused, or it yields an entry that keeps every rule of docs/import.md —
// and that the export writes back as a line parsing to the same entry, so
// that an export can always be imported again.
func FuzzImportLine(f *testing.F) {
	f.Add([]byte(`{"type":"customer","cleengCustomerId":9223372036854775807}`))
	f.Add([]byte(`{"type":"purchase","cleengCustomerId":5,"originalTransactionId":"a.1","transactionIds":["b-2","a.1","b-2"],"offerId":"S1","productId":"p","kind":"non-consumable","state":"revoked"}`))
	f.Add([]byte(`{"type":"purchase","cleengCustomerId":5,"originalTransactionId":"1000","offerId":"S1","kind":"auto-renewable","state":"active","expiresAt":"2027-01-02T03:04:05.123+02:00"}`))
	f.Add([]byte(`{"type":"customer","cleengCustomerId":1} {"type":"customer","cleengCustomerId":2}`))
	f.Add([]byte(`{"Type":"customer","cleengcustomerid":"1","extra":true}`))

	const publisher = transfer.PublisherID(7)
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := parseLine(publisher, raw)
		if err != nil {
			return
		}
		if e.Customer <= 0 {
			t.Fatalf("accepted customer %d", e.Customer)
		}
		line := CustomerLine(e.Customer)
		if p := e.Purchase; p != nil {
			if p.PublisherID != publisher || p.Owner != e.Customer {
				t.Fatalf("purchase of publisher %d owned by %d, line of %d for %d", p.PublisherID, p.Owner, publisher, e.Customer)
			}
			if len(p.TransactionIDs) == 0 || p.TransactionIDs[0] != p.OriginalTransactionID {
				t.Fatalf("transactionIds %q do not start with the original %q", p.TransactionIDs, p.OriginalTransactionID)
			}
			for i, tx := range p.TransactionIDs {
				if !transfer.ValidTransactionID(tx) || slices.Contains(p.TransactionIDs[:i], tx) {
					t.Fatalf("transactionIds %q: %q invalid or repeated", p.TransactionIDs, tx)
				}
			}
			line = PurchaseLine(*p)
		}
		written, err := json.Marshal(line)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseLine(publisher, written)
		if err != nil {
			t.Fatalf("the export of %s is refused on import: %v (%s)", raw, err, written)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("export and import again changed the entry:\n%+v\n%+v", e, again)
		}
	})
}
