package webhook_test

// The inappPurchaseSyncResult webhook as a receiver gets it, pinned by the
// files under testdata/: the body (payload-*.json, the exact bytes sent and
// signed, followed by one newline in the file) and the request headers of
// one attempt signed with fixed secrets at a fixed time (headers-*.json).

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/acme/purchase-transfer/dev/fixture"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// payloadFixtures are the finalized synchronizations the payload fixtures
// announce, and the payloads decoded from them.
var payloadFixtures = map[string]struct {
	sync    transfer.Synchronization
	payload webhook.Payload
}{
	"payload-transferred.json": {
		sync: transfer.Synchronization{
			PublisherID: 123456789, ID: "S4BHDJ6KT5FFYT6WJJNPNUBQM4", TransactionID: "2000000123456789",
			OriginalTransactionID: "2000000000000001", Target: 987654321, Status: transfer.StatusFinalized,
			Result: transfer.ResultTransferred, OfferID: "S123456789_US", PreviousOwner: 111111111, Attempts: 1,
		},
		payload: webhook.Payload{BroadcasterID: 123456789, Topic: "inappPurchaseSyncResult", Data: webhook.PayloadData{
			SynchronizationID:        "S4BHDJ6KT5FFYT6WJJNPNUBQM4",
			TransactionID:            "2000000123456789",
			OriginalTransactionID:    "2000000000000001",
			CleengCustomerID:         987654321,
			AccessGranted:            true,
			OfferID:                  "S123456789_US",
			Result:                   transfer.ResultTransferred,
			PreviousCleengCustomerID: 111111111,
		}},
	},
	// Refused: no purchase has the transaction; no access, no offer, no
	// chain, no previous owner.
	"payload-not-found.json": {
		sync: transfer.Synchronization{
			PublisherID: 123456789, ID: "order-4711-transfer", CorrelationID: "order-4711-transfer",
			TransactionID: "2000000999999999", Target: 987654321, Status: transfer.StatusFinalized,
			Result: transfer.ResultNotFound, Attempts: 1,
		},
		payload: webhook.Payload{BroadcasterID: 123456789, Topic: "inappPurchaseSyncResult", Data: webhook.PayloadData{
			SynchronizationID: "order-4711-transfer",
			TransactionID:     "2000000999999999",
			CleengCustomerID:  987654321,
			AccessGranted:     false,
			Result:            transfer.ResultNotFound,
		}},
	},
}

// readBody reads a payload fixture: the bytes of the body, without the
// file's final newline.
func readBody(t *testing.T, name string) []byte {
	t.Helper()
	return bytes.TrimSuffix(fixture.Read(t, name), []byte("\n"))
}

func TestPayloadFixturesRoundTrip(t *testing.T) {
	t.Parallel()
	for name, want := range payloadFixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := readBody(t, name)
			var got webhook.Payload
			fixture.DecodeStrict(t, name, body, &got)
			if got != want.payload {
				t.Errorf("decoded %+v, want %+v", got, want.payload)
			}
			encoded, err := json.Marshal(want.payload)
			if err != nil {
				t.Fatal(err)
			}
			fixture.AssertJSONEqual(t, name, encoded, body)
			// The signature covers bytes, so the body of a synchronization
			// is pinned byte for byte, field order included.
			sent, err := webhook.SyncResultPayload(want.sync)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sent, body) {
				t.Errorf("SyncResultPayload:\n got %s\nwant %s", sent, body)
			}
		})
	}
}

// headersFixture is one attempt's signing: which body, signed with which
// secrets (newest first), and the headers the receiver gets.
type headersFixture struct {
	Body    string            `json:"body"`
	Secrets []string          `json:"secrets"`
	Headers map[string]string `json:"headers"`
}

func readHeaders(t *testing.T, name string) headersFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f headersFixture
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

func (f headersFixture) keys(t *testing.T) [][]byte {
	t.Helper()
	var keys [][]byte
	for _, s := range f.Secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || !strings.HasPrefix(s, "whsec_") {
			t.Fatalf("secret %q is not whsec_<base64>", s)
		}
		if webhook.FormatSecret(key) != s {
			t.Errorf("FormatSecret(%q's key) = %q", s, webhook.FormatSecret(key))
		}
		keys = append(keys, key)
	}
	return keys
}

func (f headersFixture) at(t *testing.T) time.Time {
	t.Helper()
	sec, err := strconv.ParseInt(f.Headers["webhook-timestamp"], 10, 64)
	if err != nil {
		t.Fatalf("webhook-timestamp %q: %v", f.Headers["webhook-timestamp"], err)
	}
	return time.Unix(sec, 0)
}

var headerFixtures = []string{"headers-transferred.json", "headers-not-found-rotation.json"}

// TestSignatureFixtures: each signature of a fixture is Standard Webhooks'
// v1, the base64 HMAC-SHA256 of "id.timestamp.body" keyed with the secret's
// bytes, computed here without the package; Sign writes those headers; and
// the official library verifies them with each secret.
func TestSignatureFixtures(t *testing.T) {
	t.Parallel()
	for _, name := range headerFixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := readHeaders(t, name)
			body := readBody(t, f.Body)
			keys := f.keys(t)
			id, ts := f.Headers["webhook-id"], f.Headers["webhook-timestamp"]

			sigs := strings.Fields(f.Headers["webhook-signature"])
			if len(sigs) != len(keys) {
				t.Fatalf("%d signatures for %d secrets", len(sigs), len(keys))
			}
			for i, key := range keys {
				mac := hmac.New(sha256.New, key)
				mac.Write([]byte(id + "." + ts + "." + string(body)))
				if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); sigs[i] != want {
					t.Errorf("signature %d = %s, want HMAC-SHA256 %s", i, sigs[i], want)
				}
			}

			h := http.Header{}
			if err := webhook.Sign(h, id, f.at(t), body, keys); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
				if h.Get(k) != f.Headers[k] {
					t.Errorf("Sign: %s = %q, want %q", k, h.Get(k), f.Headers[k])
				}
			}

			fixtureHeader := http.Header{}
			for k, v := range f.Headers {
				fixtureHeader.Set(k, v)
			}
			for _, s := range f.Secrets {
				wh, err := standardwebhooks.NewWebhook(s)
				if err != nil {
					t.Fatal(err)
				}
				if err := wh.VerifyIgnoringTimestamp(body, fixtureHeader); err != nil {
					t.Errorf("the official library refuses the fixture with %s: %v", s, err)
				}
				if wh.VerifyIgnoringTimestamp(append(bytes.Clone(body), '\n'), fixtureHeader) == nil {
					t.Error("the fixture's signature verifies another body")
				}
			}
		})
	}
}

// TestSenderSendsTheFixtureRequest: an attempt of the real Sender reaches
// the receiver as the fixtures say, headers and body.
func TestSenderSendsTheFixtureRequest(t *testing.T) {
	t.Parallel()
	for _, name := range headerFixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := readHeaders(t, name)
			body := readBody(t, f.Body)
			type received struct {
				method string
				header http.Header
				body   []byte
			}
			got := make(chan received, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got <- received{method: r.Method, header: r.Header.Clone(), body: b}
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()

			answer := webhook.NewSender(egress.Local, 5*time.Second).
				Send(context.Background(), srv.URL+"/hooks", f.Headers["webhook-id"], f.at(t), body, f.keys(t))
			if answer.Err != nil || answer.Status != http.StatusNoContent {
				t.Fatalf("answer = %+v", answer)
			}
			r := <-got
			if r.method != http.MethodPost {
				t.Errorf("method = %s, want POST", r.method)
			}
			if !bytes.Equal(r.body, body) {
				t.Errorf("body:\n got %s\nwant %s", r.body, body)
			}
			for k, want := range f.Headers {
				if vs := r.header.Values(k); len(vs) != 1 || vs[0] != want {
					t.Errorf("header %s = %q, want %q", k, vs, want)
				}
			}
		})
	}
}
