package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// TestSignVerifiesWithTheOfficialLibrary: every secret of a rotation
// verifies a delivery on its own, and a tampered one fails.
func TestSignVerifiesWithTheOfficialLibrary(t *testing.T) {
	t.Parallel()
	oldShown, oldKey := webhook.NewSecret()
	newShown, newKey := webhook.NewSecret()
	body := []byte(`{"broadcasterId":1,"topic":"inappPurchaseSyncResult","data":{}}`)
	at := time.Now()
	h := http.Header{}
	if err := webhook.Sign(h, "evt_X", at, body, [][]byte{newKey, oldKey}); err != nil {
		t.Fatal(err)
	}
	if h.Get("webhook-id") != "evt_X" || h.Get("webhook-timestamp") != fmt.Sprint(at.Unix()) {
		t.Errorf("headers = %v", h)
	}
	sigs := strings.Fields(h.Get("webhook-signature"))
	if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") {
		t.Errorf("webhook-signature = %q, want two v1 signatures", h.Get("webhook-signature"))
	}
	for _, secret := range []string{oldShown, newShown} {
		if !strings.HasPrefix(secret, "whsec_") {
			t.Errorf("secret %q lacks whsec_", secret)
		}
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("the library refuses a signature by one of the secrets: %v", err)
		}
		if err := wh.Verify(append([]byte(nil), append(body, ' ')...), h); err == nil {
			t.Error("a tampered body verifies")
		}
	}
	other, _ := webhook.NewSecret()
	if wh, _ := standardwebhooks.NewWebhook(other); wh.Verify(body, h) == nil {
		t.Error("an unrelated secret verifies")
	}
	if webhook.Sign(http.Header{}, "evt_X", at, body, nil) == nil {
		t.Error("signed with no key")
	}
}

func TestSealer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, encoded := webhook.NewSealingKey()
	decoded, err := webhook.ParseSealingKey(encoded)
	if err != nil || string(decoded) != string(key) {
		t.Fatalf("ParseSealingKey(%q) = %v, %v", encoded, decoded, err)
	}
	s, err := webhook.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	sealed := mustSeal(t, s, secret, "webhook-secret/1/ep_A")
	if strings.Contains(string(sealed), string(secret)) {
		t.Error("the sealed value contains the secret")
	}
	if again := mustSeal(t, s, secret, "webhook-secret/1/ep_A"); string(again) == string(sealed) {
		t.Error("two seals of one secret are equal: the nonce is not random")
	}
	if got, err := s.Open(ctx, sealed, "webhook-secret/1/ep_A"); err != nil || string(got) != string(secret) {
		t.Errorf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(ctx, sealed, "webhook-secret/2/ep_A"); !errors.Is(err, webhook.ErrUnseal) {
		t.Error("a secret opens under another publisher's context")
	}
	otherKey, _ := webhook.NewSealingKey()
	other, _ := webhook.NewSealer(otherKey)
	if _, err := other.Open(ctx, sealed, "webhook-secret/1/ep_A"); !errors.Is(err, webhook.ErrUnseal) {
		t.Error("a secret opens with another key")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.Open(ctx, tampered, "webhook-secret/1/ep_A"); !errors.Is(err, webhook.ErrUnseal) {
		t.Error("a tampered secret opens")
	}
	for _, bad := range []string{"", "not base64!", "c2hvcnQ="} {
		if _, err := webhook.ParseSealingKey(bad); err == nil {
			t.Errorf("ParseSealingKey(%q) accepted", bad)
		}
	}
}

func mustSeal(t *testing.T, s *webhook.Sealer, plain []byte, binding string) []byte {
	t.Helper()
	sealed, err := s.Seal(context.Background(), plain, binding)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// sealingKeys stand in for package secrets: held are what Current returns,
// fetched what a Refresh finds.
type sealingKeys struct {
	held, fetched [][]byte
	err           error
}

func (k *sealingKeys) Current(context.Context) ([][]byte, error) { return k.held, k.err }

func (k *sealingKeys) Refresh(context.Context) ([][]byte, bool) {
	changed := string(k.held[0]) != string(k.fetched[0])
	k.held = k.fetched
	return k.held, changed
}

// A rotated sealing key: the current key seals, the previous one still
// opens what it sealed, one two rotations back does not; a value sealed with
// a key not seen yet opens once the keys are fetched again.
func TestRotatingSealer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k1, _ := webhook.NewSealingKey()
	k2, _ := webhook.NewSealingKey()
	k3, _ := webhook.NewSealingKey()
	plain := []byte("whsec-plain")
	sealedBy := func(k []byte) []byte {
		s, err := webhook.NewSealer(k)
		if err != nil {
			t.Fatal(err)
		}
		return mustSeal(t, s, plain, "b")
	}
	keys := &sealingKeys{held: [][]byte{k2, k1}, fetched: [][]byte{k2, k1}}
	s := webhook.NewRotatingSealer(keys)
	for name, sealed := range map[string][]byte{"current": sealedBy(k2), "previous": sealedBy(k1)} {
		if got, err := s.Open(ctx, sealed, "b"); err != nil || string(got) != string(plain) {
			t.Errorf("a value sealed with the %s key: %q, %v", name, got, err)
		}
	}
	// The rotating sealer seals with the current key.
	if _, err := webhook.NewRotatingSealer(&sealingKeys{held: [][]byte{k2}, fetched: [][]byte{k2}}).Open(ctx, mustSeal(t, s, plain, "b"), "b"); err != nil {
		t.Errorf("a value sealed now does not open with the current key alone: %v", err)
	}
	// Sealed elsewhere with a key rotated in since: opens after a fetch.
	keys.fetched = [][]byte{k3, k2}
	if _, err := s.Open(ctx, sealedBy(k3), "b"); err != nil {
		t.Errorf("a value of the rotated-in key: %v", err)
	}
	if _, err := s.Open(ctx, sealedBy(k1), "b"); !errors.Is(err, webhook.ErrUnseal) {
		t.Errorf("a value of the key two rotations back: %v, want ErrUnseal", err)
	}
	// No key loadable: a transient failure, not a corrupt value.
	down := webhook.NewRotatingSealer(&sealingKeys{err: errors.New("secrets manager down")})
	if _, err := down.Open(ctx, sealedBy(k1), "b"); !errors.Is(err, webhook.ErrSealingKeyUnavailable) || errors.Is(err, webhook.ErrUnseal) {
		t.Errorf("Open without keys: %v, want ErrSealingKeyUnavailable", err)
	}
	if _, err := down.Seal(ctx, plain, "b"); !errors.Is(err, webhook.ErrSealingKeyUnavailable) {
		t.Errorf("Seal without keys: %v, want ErrSealingKeyUnavailable", err)
	}
}

func TestSyncResultPayload(t *testing.T) {
	t.Parallel()
	base := transfer.Synchronization{PublisherID: 123456789, ID: "sync-1", TransactionID: "tx-1", Target: 987654321,
		Status: transfer.StatusFinalized}
	cases := []struct {
		name string
		edit func(*transfer.Synchronization)
		want string
	}{
		{"transferred", func(s *transfer.Synchronization) {
			s.Result, s.OriginalTransactionID, s.OfferID, s.PreviousOwner = transfer.ResultTransferred, "otx-1", "S123456789_US", 111111111
		}, `{"broadcasterId":123456789,"topic":"inappPurchaseSyncResult","data":{"synchronizationId":"sync-1","transactionId":"tx-1","originalTransactionId":"otx-1","cleengCustomerId":987654321,"accessGranted":true,"offerId":"S123456789_US","result":"PURCHASE_OWNERSHIP_TRANSFERRED","previousCleengCustomerId":111111111}}`},
		{"unchanged", func(s *transfer.Synchronization) {
			s.Result, s.OriginalTransactionID, s.OfferID = transfer.ResultUnchanged, "otx-1", "S123456789_US"
		}, `{"broadcasterId":123456789,"topic":"inappPurchaseSyncResult","data":{"synchronizationId":"sync-1","transactionId":"tx-1","originalTransactionId":"otx-1","cleengCustomerId":987654321,"accessGranted":true,"offerId":"S123456789_US","result":"PURCHASE_OWNERSHIP_UNCHANGED"}}`},
		{"expired", func(s *transfer.Synchronization) {
			s.Result, s.OriginalTransactionID = transfer.ResultExpired, "otx-1"
		}, `{"broadcasterId":123456789,"topic":"inappPurchaseSyncResult","data":{"synchronizationId":"sync-1","transactionId":"tx-1","originalTransactionId":"otx-1","cleengCustomerId":987654321,"accessGranted":false,"result":"RECEIVED_EXPIRED_PURCHASE"}}`},
		{"not found", func(s *transfer.Synchronization) { s.Result = transfer.ResultNotFound },
			`{"broadcasterId":123456789,"topic":"inappPurchaseSyncResult","data":{"synchronizationId":"sync-1","transactionId":"tx-1","cleengCustomerId":987654321,"accessGranted":false,"result":"TRANSACTION_ID_NOT_FOUND"}}`},
		{"failed", func(s *transfer.Synchronization) { s.Result = transfer.ResultTransferFailed },
			`{"broadcasterId":123456789,"topic":"inappPurchaseSyncResult","data":{"synchronizationId":"sync-1","transactionId":"tx-1","cleengCustomerId":987654321,"accessGranted":false,"result":"TRANSFER_FAILED"}}`},
	}
	for _, c := range cases {
		s := base
		c.edit(&s)
		got, err := webhook.SyncResultPayload(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	p := webhook.RetryPolicy{Schedule: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}, ClientErrorAttempts: 2}
	timeout := webhook.Answer{Err: fmt.Errorf("no response: %w", errors.New("deadline"))}
	cases := []struct {
		name    string
		attempt int
		a       webhook.Answer
		wait    time.Duration
		again   bool
	}{
		{"2xx", 1, webhook.Answer{Status: 204}, 0, false},
		{"410", 1, webhook.Answer{Status: 410}, 0, false},
		{"5xx first", 1, webhook.Answer{Status: 500}, time.Second, true},
		{"5xx third", 3, webhook.Answer{Status: 502}, 3 * time.Second, true},
		{"5xx last", 4, webhook.Answer{Status: 503}, 0, false},
		{"timeout", 2, timeout, 2 * time.Second, true},
		{"408", 1, webhook.Answer{Status: 408}, time.Second, true},
		{"429 with a longer Retry-After", 1, webhook.Answer{Status: 429, RetryAfter: 30 * time.Second}, 30 * time.Second, true},
		{"429 with a shorter Retry-After", 2, webhook.Answer{Status: 429, RetryAfter: time.Second}, 2 * time.Second, true},
		{"429 asking for days", 1, webhook.Answer{Status: 429, RetryAfter: 48 * time.Hour}, webhook.MaxStep, true},
		{"4xx first", 1, webhook.Answer{Status: 400}, time.Second, true},
		{"4xx at the limit", 2, webhook.Answer{Status: 404}, 0, false},
		{"3xx", 2, webhook.Answer{Status: 302}, 0, false},
		{"egress refusal", 2, webhook.Answer{Err: fmt.Errorf("dial: %w", egress.ErrRefused)}, 0, false},
	}
	for _, c := range cases {
		wait, again := p.Next(c.attempt, c.a)
		if wait != c.wait || again != c.again {
			t.Errorf("%s: Next(%d) = %v, %v; want %v, %v", c.name, c.attempt, wait, again, c.wait, c.again)
		}
	}
	jittered := webhook.RetryPolicy{Schedule: []time.Duration{10 * time.Second}, Jitter: 0.2}
	for range 100 {
		if wait, _ := jittered.Next(1, webhook.Answer{Status: 500}); wait < 8*time.Second || wait > 10*time.Second {
			t.Fatalf("jittered wait %v outside [8s, 10s]", wait)
		}
	}
}

func TestDefaultSchedule(t *testing.T) {
	t.Parallel()
	p := webhook.DefaultRetryPolicy()
	total := p.Total()
	if p.MaxAttempts() != 15 || total < 3*24*time.Hour || total > 4*24*time.Hour {
		t.Errorf("default: %d attempts over %v; want about 3 days", p.MaxAttempts(), total)
	}
	for i, d := range p.Schedule {
		if d > 12*time.Hour || (i > 0 && d < p.Schedule[i-1]) {
			t.Errorf("step %d = %v: steps must grow and fit one SQS visibility change", i, d)
		}
	}
	parsed, err := webhook.ParseSchedule("5s,30s,2m,10m,30m,1h,2h,4h,8h,12h,12h,12h,12h,12h")
	if err != nil || !reflect.DeepEqual(parsed, p.Schedule) {
		t.Errorf("the template's schedule %v (%v) differs from the default", parsed, err)
	}
	for _, bad := range []string{"", "5s,,1m", "500ms", "13h", "soon"} {
		if _, err := webhook.ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]time.Duration{
		"":    0,
		"7":   7 * time.Second,
		"0":   0,
		"-3":  0,
		"abc": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
		"999999999": webhook.MaxStep,
	}
	for in, want := range cases {
		if got := webhook.ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestMessages(t *testing.T) {
	t.Parallel()
	k := webhook.DeliveryKey{PublisherID: 7, SynchronizationID: "s", EndpointID: "ep_1"}
	for _, m := range []webhook.Message{webhook.DeliverMessage(k), webhook.ParkedMessage(k), webhook.DispatchMessage(webhook.EventKey{PublisherID: 7, SynchronizationID: "s"})} {
		b, _ := json.Marshal(m)
		var back webhook.Message
		if err := json.Unmarshal(b, &back); err != nil || back != m || !back.Valid() {
			t.Errorf("%s does not round-trip as a valid message", b)
		}
		if strings.Contains(string(b), "whsec") {
			t.Errorf("message %s carries a secret", b)
		}
	}
	for _, bad := range []webhook.Message{
		{Kind: webhook.KindDeliver, PublisherID: 7, SynchronizationID: "s"},
		{Kind: webhook.KindDispatch, PublisherID: 7, SynchronizationID: "s", EndpointID: "ep"},
		{Kind: "other", PublisherID: 7, SynchronizationID: "s"},
		{Kind: webhook.KindDispatch, PublisherID: 0, SynchronizationID: "s"},
		{Kind: webhook.KindDispatch, PublisherID: 7},
		{Kind: webhook.KindDispatch, PublisherID: 7, SynchronizationID: "s", Parked: true},
	} {
		if bad.Valid() {
			t.Errorf("%+v is valid", bad)
		}
	}
}
