package apple_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/acme/purchase-transfer/dev/fixture"
	"github.com/acme/purchase-transfer/internal/apple"
)

// TestFixturesRoundTrip pins the structs to Apple's wire names: each fixture decodes strictly
// and marshals back to the same JSON, so a misspelt tag or a lost field fails here.
func TestFixturesRoundTrip(t *testing.T) {
	for name, v := range map[string]any{
		"transaction.json":  &apple.TransactionInfo{},
		"renewal.json":      &apple.RenewalInfo{},
		"notification.json": &apple.NotificationPayload{},
		"summary.json":      &apple.NotificationPayload{},
	} {
		t.Run(name, func(t *testing.T) {
			want := fixture.Read(t, name)
			fixture.DecodeStrict(t, name, want, v)
			got, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			fixture.AssertJSONEqual(t, name, got, want)
		})
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
