package appstoreapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/appstoresim"
	"github.com/acme/purchase-transfer/dev/fixture"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
)

// TestFixturesRoundTrip pins the wire structs to Apple's names: each fixture (shaped as Apple's
// documentation shows the object) decodes strictly and marshals back to the same JSON.
func TestFixturesRoundTrip(t *testing.T) {
	for name, v := range map[string]any{
		"transactionInfoResponse.json":       &appstoreapi.TransactionInfoResponse{},
		"statusResponse.json":                &appstoreapi.StatusResponse{},
		"historyResponse.json":               &appstoreapi.HistoryResponse{},
		"notificationHistoryRequest.json":    &appstoreapi.NotificationHistoryRequest{},
		"notificationHistoryResponse.json":   &appstoreapi.NotificationHistoryResponse{},
		"sendTestNotificationResponse.json":  &appstoreapi.SendTestNotificationResponse{},
		"checkTestNotificationResponse.json": &appstoreapi.CheckTestNotificationResponse{},
		"errorResponse.json":                 &appstoreapi.ErrorResponse{},
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

var sandboxApp = appstoresim.App{BundleID: testBundle, AppAppleID: 1234567890, Environment: apple.EnvironmentSandbox}

// rig is the stand-in on a test server, and a client with a registered key.
type rig struct {
	sim       *appstoresim.Server
	server    *httptest.Server
	client    *appstoreapi.Client
	key       appstoreapi.Key
	authority *localroot.Authority
	verifier  *apple.Verifier
}

func newRig(t *testing.T, wrap func(http.Handler) http.Handler, opts ...appstoreapi.Option) *rig {
	t.Helper()
	a, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	v, err := apple.NewVerifier(apple.WithRoots(a.Pool()))
	if err != nil {
		t.Fatal(err)
	}
	sim := appstoresim.New(a, sandboxApp)
	key, _ := newKey(t)
	sim.AddKey(key.IssuerID, key.KeyID, &key.Private.PublicKey)
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts = append([]appstoreapi.Option{appstoreapi.WithRetry(appstoreapi.Retry{Attempts: 4, Base: 5 * time.Millisecond, Max: 20 * time.Millisecond})}, opts...)
	return &rig{sim: sim, server: srv, key: key, authority: a, verifier: v,
		client: appstoreapi.New(appstoreapi.BaseURL(apple.EnvironmentSandbox, srv.URL), key, v, opts...)}
}

func (r *rig) seed(t *testing.T) {
	t.Helper()
	now := time.Now()
	base := apple.TransactionInfo{OriginalTransactionID: "1000", ProductID: "com.acme.monthly", SubscriptionGroupIdentifier: "g1",
		Type: apple.ProductAutoRenewable, InAppOwnershipType: "PURCHASED", Quantity: 1}
	first, renewed := base, base
	first.TransactionID, first.PurchaseDate, first.ExpiresDate = "1000", now.Add(-60*24*time.Hour).UnixMilli(), now.Add(-30*24*time.Hour).UnixMilli()
	renewed.TransactionID, renewed.PurchaseDate, renewed.ExpiresDate = "1001", now.Add(-30*24*time.Hour).UnixMilli(), now.Add(30*24*time.Hour).UnixMilli()
	r.sim.AddTransaction(first)
	r.sim.AddTransaction(renewed)
}

var ctx = context.Background()

// Each endpoint's answer is parsed and every signed field verified.
func TestEndpoints(t *testing.T) {
	r := newRig(t, nil)
	r.seed(t)

	tx, err := r.client.TransactionInfo(ctx, "1001")
	if err != nil || tx.TransactionID != "1001" || tx.OriginalTransactionID != "1000" || tx.BundleID != testBundle || tx.Environment != apple.EnvironmentSandbox {
		t.Fatalf("TransactionInfo = %+v, %v", tx, err)
	}
	if _, err := r.client.TransactionInfo(ctx, "404"); !errors.Is(err, appstoreapi.ErrNotFound) || !strings.Contains(err.Error(), "4040010") {
		t.Errorf("TransactionInfo of an unknown id = %v", err)
	}

	st, err := r.client.SubscriptionStatuses(ctx, "1000")
	if err != nil || len(st.Subscriptions) != 1 || st.BundleID != testBundle || st.Environment != apple.EnvironmentSandbox {
		t.Fatalf("SubscriptionStatuses = %+v, %v", st, err)
	}
	s := st.Subscriptions[0]
	if s.GroupID != "g1" || s.Status != apple.StatusActive || s.Transaction.TransactionID != "1001" || s.Renewal.OriginalTransactionID != "1000" {
		t.Errorf("subscription = %+v", s)
	}

	h, err := r.client.TransactionHistory(ctx, "1001", "")
	if err != nil || h.HasMore || len(h.Transactions) != 2 || h.Transactions[0].TransactionID != "1000" || h.Transactions[1].TransactionID != "1001" {
		t.Fatalf("TransactionHistory = %+v, %v", h, err)
	}

	start := time.Now().Add(-time.Hour)
	for i, typ := range []string{apple.TypeSubscribed, apple.TypeDidRenew} {
		if _, err := r.sim.AddNotification(typ, "", "1001", start.Add(time.Duration(i)*time.Minute), i == 0); err != nil {
			t.Fatal(err)
		}
	}
	page, err := r.client.NotificationHistory(ctx, appstoreapi.NotificationHistoryRequest{StartDate: start.Add(-time.Minute).UnixMilli(), EndDate: time.Now().UnixMilli()}, "")
	if err != nil || page.HasMore || len(page.Notifications) != 2 {
		t.Fatalf("NotificationHistory = %+v, %v", page, err)
	}
	n := page.Notifications[1]
	if n.Notification.Payload.NotificationType != apple.TypeDidRenew || n.Notification.Transaction == nil || n.Notification.Transaction.TransactionID != "1001" ||
		n.SignedPayload == "" || len(n.SendAttempts) != 1 || n.SendAttempts[0].SendAttemptResult != "NO_RESPONSE" {
		t.Errorf("history item = %+v", n)
	}
	only, err := r.client.NotificationHistory(ctx, appstoreapi.NotificationHistoryRequest{StartDate: start.Add(-time.Minute).UnixMilli(), EndDate: time.Now().UnixMilli(), OnlyFailures: true}, "")
	if err != nil || len(only.Notifications) != 1 || only.Notifications[0].Notification.Payload.NotificationType != apple.TypeDidRenew {
		t.Errorf("onlyFailures = %+v, %v", only, err)
	}

	// A test notification, posted to the notification URL.
	got := make(chan string, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body localroot.SignedPayload
		_ = json.NewDecoder(req.Body).Decode(&body)
		got <- body.SignedPayload
	}))
	defer receiver.Close()
	r.sim.SetNotificationURL(receiver.URL)
	token, err := r.client.RequestTestNotification(ctx)
	if err != nil || token == "" {
		t.Fatalf("RequestTestNotification = %q, %v", token, err)
	}
	posted := <-got
	r.sim.Wait()
	status, err := r.client.TestNotificationStatus(ctx, token)
	if err != nil || !status.Delivered() || status.Notification.Payload.NotificationType != apple.TypeTest {
		t.Fatalf("TestNotificationStatus = %+v, %v", status, err)
	}
	if n, err := r.verifier.VerifyNotification(ctx, posted); err != nil || n.Payload.NotificationUUID != status.Notification.Payload.NotificationUUID {
		t.Errorf("the posted notification is not the one whose status is reported: %v", err)
	}
	if _, err := r.client.TestNotificationStatus(ctx, "nope"); !errors.Is(err, appstoreapi.ErrNotFound) {
		t.Errorf("status of an unknown token = %v", err)
	}
}

// forge rewrites the answers of h: the first value of the JSON field named field (anywhere in
// the answer, in arrays too) is re-signed under another root, its payload unchanged, so only
// its signature gives it away.
func forge(t *testing.T, field string) func(http.Handler) http.Handler {
	other, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			var body any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Errorf("answer is not JSON: %v", err)
			}
			done := false
			body = walk(body, field, func(jws string) string {
				if done {
					return jws
				}
				done = true
				payload, err := payloadOf(jws)
				if err != nil {
					t.Fatal(err)
				}
				forged, err := other.Sign(json.RawMessage(payload))
				if err != nil {
					t.Fatal(err)
				}
				return forged
			})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			_ = json.NewEncoder(w).Encode(body)
		})
	}
}

func walk(v any, field string, f func(string) string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == field {
				x[k] = f(s)
			} else {
				x[k] = walk(e, field, f)
			}
		}
	case []any:
		for i, e := range x {
			if s, ok := e.(string); ok && field == "[]" {
				x[i] = f(s)
			} else {
				x[i] = walk(e, field, f)
			}
		}
	}
	return v
}

func payloadOf(jws string) ([]byte, error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWS")
	}
	var b bytes.Buffer
	_, err := io.Copy(&b, base64Decoder(parts[1]))
	return b.Bytes(), err
}

// A forged signed field in any endpoint's answer fails the call; nothing decoded from it is returned.
func TestForgedSignedFieldRefused(t *testing.T) {
	calls := map[string]func(*rig) error{
		"Get Transaction Info/signedTransactionInfo": func(r *rig) error { _, err := r.client.TransactionInfo(ctx, "1001"); return err },
		"Get All Subscription Statuses/signedTransactionInfo": func(r *rig) error {
			_, err := r.client.SubscriptionStatuses(ctx, "1001")
			return err
		},
		"Get All Subscription Statuses/signedRenewalInfo": func(r *rig) error {
			_, err := r.client.SubscriptionStatuses(ctx, "1001")
			return err
		},
		"Get Transaction History/[]": func(r *rig) error { _, err := r.client.TransactionHistory(ctx, "1001", ""); return err },
		"Get Notification History/signedPayload": func(r *rig) error {
			_, err := r.client.NotificationHistory(ctx, appstoreapi.NotificationHistoryRequest{StartDate: 1, EndDate: time.Now().UnixMilli()}, "")
			return err
		},
		"Get Test Notification Status/signedPayload": func(r *rig) error {
			token, err := r.client.RequestTestNotification(ctx)
			if err != nil {
				return err
			}
			_, err = r.client.TestNotificationStatus(ctx, token)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			_, field, _ := strings.Cut(name, "/")
			r := newRig(t, forge(t, field))
			r.seed(t)
			if _, err := r.sim.AddNotification(apple.TypeDidRenew, "", "1001", time.Now().Add(-time.Minute), false); err != nil {
				t.Fatal(err)
			}
			err := call(r)
			if !errors.Is(err, apple.ErrUnverified) {
				t.Fatalf("err = %v, want apple.ErrUnverified", err)
			}
			r.sim.Wait()
		})
	}
	// The same calls without the forgery pass: the refusal is the forgery's.
	r := newRig(t, nil)
	r.seed(t)
	if _, err := r.sim.AddNotification(apple.TypeDidRenew, "", "1001", time.Now().Add(-time.Minute), false); err != nil {
		t.Fatal(err)
	}
	for name, call := range calls {
		if err := call(r); err != nil {
			t.Errorf("%s without a forgery: %v", name, err)
		}
	}
	r.sim.Wait()
}

// 429 with Retry-After and 5xx are retried, Retry-After honoured; past the attempts the last
// error is returned.
func TestRetries(t *testing.T) {
	r := newRig(t, nil)
	r.seed(t)
	r.sim.FailNext(2, http.StatusTooManyRequests, "1")
	began := time.Now()
	if _, err := r.client.TransactionInfo(ctx, "1001"); err != nil {
		t.Fatalf("after two 429s: %v", err)
	}
	if n := r.sim.Requests(); n != 3 {
		t.Errorf("requests = %d, want 3", n)
	}
	// Retry-After: 1 twice, over a backoff of at most 20 ms.
	if waited := time.Since(began); waited < 2*time.Second {
		t.Errorf("retried after %v, sooner than Retry-After says", waited)
	}

	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		before := r.sim.Requests()
		r.sim.FailNext(3, status, "")
		if _, err := r.client.TransactionInfo(ctx, "1001"); err != nil {
			t.Errorf("after three %ds: %v", status, err)
		}
		if n := r.sim.Requests() - before; n != 4 {
			t.Errorf("%d: requests = %d, want 4", status, n)
		}
	}

	before := r.sim.Requests()
	r.sim.FailNext(4, http.StatusTooManyRequests, "")
	_, err := r.client.TransactionInfo(ctx, "1001")
	if !errors.Is(err, appstoreapi.ErrRateLimited) || !strings.Contains(err.Error(), "after 4 attempts") || !strings.Contains(err.Error(), "4290000") {
		t.Errorf("after the attempts = %v", err)
	}
	if n := r.sim.Requests() - before; n != 4 {
		t.Errorf("requests = %d, want 4 (the attempts)", n)
	}
	// Not retried: a 4xx other than 429.
	before = r.sim.Requests()
	r.sim.FailNext(1, http.StatusBadRequest, "")
	if _, err := r.client.TransactionInfo(ctx, "1001"); err == nil || r.sim.Requests()-before != 1 {
		t.Errorf("400 = %v after %d requests, want one", err, r.sim.Requests()-before)
	}
}

// No retry is started that the deadline cannot wait for: a Retry-After beyond it ends the call
// at once, with the 429 and why.
func TestRetriesWithinTheDeadline(t *testing.T) {
	r := newRig(t, nil)
	r.seed(t)
	r.sim.FailNext(5, http.StatusTooManyRequests, "30")
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := r.client.TransactionInfo(dctx, "1001")
	if !errors.Is(err, appstoreapi.ErrRateLimited) || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v, want the 429 and the deadline", err)
	}
	if dctx.Err() != nil {
		t.Error("the call waited for the deadline instead of giving up")
	}
	if n := r.sim.Requests(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}

	// 5xx until the deadline passes: the call ends by it, with the last answer (whether the
	// deadline fell during a wait or during an attempt).
	r2 := newRig(t, nil, appstoreapi.WithRetry(appstoreapi.Retry{Attempts: 1000, Base: 50 * time.Millisecond, Max: 100 * time.Millisecond}))
	r2.seed(t)
	r2.sim.FailNext(1000, http.StatusBadGateway, "")
	dctx2, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	_, err = r2.client.TransactionInfo(dctx2, "1001")
	if err == nil || !strings.Contains(err.Error(), "HTTP 502") {
		t.Fatalf("err = %v, want the 502", err)
	}
	if n := r2.sim.Requests(); n < 2 || n >= 1000 {
		t.Errorf("requests = %d: want retries, bounded by the deadline", n)
	}
}

// 401 names the key (id and issuer), never the private key.
func TestUnauthorizedNamesTheKey(t *testing.T) {
	r := newRig(t, nil)
	r.seed(t)
	stranger, p8 := newKey(t)
	stranger.KeyID = "ZZZZZZZZZZ"
	c := appstoreapi.New(r.server.URL, stranger, r.verifier)
	_, err := c.TransactionInfo(ctx, "1001")
	if !errors.Is(err, appstoreapi.ErrUnauthorized) || !strings.Contains(err.Error(), "ZZZZZZZZZZ") || !strings.Contains(err.Error(), testIssuer) {
		t.Fatalf("err = %v, want ErrUnauthorized naming the key", err)
	}
	raw, _ := stranger.Private.Bytes()
	if strings.Contains(err.Error(), strings.Split(string(p8), "\n")[1][:16]) || strings.Contains(err.Error(), fmt.Sprintf("%x", raw)[:16]) {
		t.Error("the error quotes the private key")
	}
	if n := r.sim.Requests(); n != 1 {
		t.Errorf("a 401 was retried: %d requests", n)
	}
	// A registered key for another app (bid) is refused too.
	wrongApp := r.key
	wrongApp.BundleID = "com.other.app"
	if _, err := appstoreapi.New(r.server.URL, wrongApp, r.verifier).TransactionInfo(ctx, "1001"); !errors.Is(err, appstoreapi.ErrUnauthorized) {
		t.Errorf("another bid = %v", err)
	}
}

func TestBaseURL(t *testing.T) {
	for _, c := range []struct{ env, override, want string }{
		{apple.EnvironmentProduction, "", appstoreapi.ProductionURL},
		{apple.EnvironmentSandbox, "", appstoreapi.SandboxURL},
		{apple.EnvironmentSandbox, "http://127.0.0.1:9/", "http://127.0.0.1:9"},
	} {
		if got := appstoreapi.BaseURL(c.env, c.override); got != c.want {
			t.Errorf("BaseURL(%q, %q) = %q", c.env, c.override, got)
		}
	}
}
