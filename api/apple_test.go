package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

var appleBodyPtr = appleOp + pointer("requestBody", "content", "application/json")

// notification is what a test has Apple sign: the payload, and the
// transaction and renewal info nested in it (each optional).
type notification struct {
	payload apple.NotificationPayload
	tx      *apple.TransactionInfo
	renewal *apple.RenewalInfo
}

// didRenew is a DID_RENEW of the publisher's subscription chain for the app bundle.
func didRenew(bundle string) notification {
	now := time.Now()
	signed := now.UnixMilli()
	return notification{
		payload: apple.NotificationPayload{
			NotificationType: apple.TypeDidRenew, NotificationUUID: "5f3c8a2e-6b1d-4c2e-9a7f-1d2e3f4a5b6c", Version: "2.0", SignedDate: signed,
			Data: &apple.NotificationData{AppAppleID: appAppleID, BundleID: bundle, Environment: apple.EnvironmentProduction, Status: apple.StatusActive},
		},
		tx: &apple.TransactionInfo{
			TransactionID: appleTxID, OriginalTransactionID: appleOrigTxID, BundleID: bundle,
			ProductID: "com.example.premium.monthly", Type: apple.ProductAutoRenewable,
			PurchaseDate: signed, ExpiresDate: now.Add(30 * 24 * time.Hour).UnixMilli(), SignedDate: signed,
			Environment: apple.EnvironmentProduction,
		},
		renewal: &apple.RenewalInfo{OriginalTransactionID: appleOrigTxID, AutoRenewStatus: 1, SignedDate: signed, Environment: apple.EnvironmentProduction},
	}
}

// notificationBody is the body Apple POSTs: {"signedPayload": "<JWS>"}.
func notificationBody(t testing.TB, signer *localroot.Authority, n notification) string {
	t.Helper()
	jws, err := localroot.SignNotification(signer, n.payload, n.tx, n.renewal)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(localroot.SignedPayload{SignedPayload: jws})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// untrustedRoot signs exactly like the trusted one, under a root the
// handlers' verifier does not trust.
func untrustedRoot(t testing.TB) *localroot.Authority {
	t.Helper()
	a, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func appleRequest(body string) request {
	return request{method: http.MethodPost, target: fmt.Sprintf("/apple/notifications/%d", publisher), body: body,
		header: hdr("Content-Type", "application/json")}
}

// TestAppleNotificationAnswers serves a notification for each outcome the
// receiver records and validates the 200 strictly against the document; the
// documented outcomes are exactly the code's (appstore.Outcome).
func TestAppleNotificationAnswers(t *testing.T) {
	s := mustSpec(t)
	src := mustSource(t)
	known := func(signedAt time.Time) *transfer.Purchase {
		return &transfer.Purchase{PublisherID: publisher, OriginalTransactionID: appleOrigTxID, TransactionIDs: []string{appleOrigTxID},
			Owner: customer, Kind: transfer.KindAutoRenewable, State: transfer.StateActive, AppleSignedAt: signedAt, Version: 3}
	}
	test := didRenew(appBundleID)
	test.payload.NotificationType, test.tx, test.renewal = apple.TypeTest, nil, nil
	cases := []struct {
		want  appstore.Outcome
		n     notification
		setup func(w *world)
	}{
		{appstore.OutcomeApplied, didRenew(appBundleID), func(w *world) { w.purchase = known(time.Now().Add(-time.Hour)) }},
		{appstore.OutcomeCreated, didRenew(appBundleID), func(*world) {}},
		{appstore.OutcomeOutOfOrder, didRenew(appBundleID), func(w *world) { w.purchase = known(time.Now().Add(time.Hour)) }},
		{appstore.OutcomeRecorded, test, func(*world) {}},
		{appstore.OutcomeConflict, didRenew(appBundleID), func(w *world) { w.recordErrs = []error{appstore.ErrForeignTransaction} }},
		{appstore.OutcomeDuplicate, didRenew(appBundleID), func(w *world) { w.recordErrs = []error{appstore.ErrDuplicate} }},
	}
	var served []string
	for _, tc := range cases {
		t.Run(string(tc.want), func(t *testing.T) {
			w := newWorld()
			tc.setup(w)
			rec := appleRequest(notificationBody(t, appleRoot, tc.n)).serve(w.handler())
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if err := s.validate(t, true, s.responseSchemaPtr(appleOp, "200"), rec.Body.Bytes()); err != nil {
				t.Errorf("the 200 body does not match openapi.yaml: %v\n%s", err, rec.Body)
			}
			var got struct {
				Outcome string `json:"outcome"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &got)
			if got.Outcome != string(tc.want) {
				t.Errorf("outcome = %q, want %q", got.Outcome, tc.want)
			}
			served = append(served, got.Outcome)
		})
	}
	enum, _ := s.at(pointer("components", "schemas", "AppleNotificationOutcome", "enum")).([]any)
	var documented []string
	for _, v := range enum {
		documented = append(documented, fmt.Sprint(v))
	}
	slices.Sort(documented)
	if want := src.values("Outcome"); !reflect.DeepEqual(documented, want) {
		t.Errorf("openapi.yaml documents the outcomes %v; internal/appstore has %v", documented, want)
	}
	if slices.Sort(served); !reflect.DeepEqual(served, documented) {
		t.Errorf("the outcomes served are %v, the documented ones %v: add a case", served, documented)
	}
}

// TestAppleNotificationBodies: the document's request body schema and the
// handler accept the same bodies (the code's refusal is 400 APL0001; a body
// it takes goes on to the signature check, so a well-formed body of garbage
// answers APL0002).
func TestAppleNotificationBodies(t *testing.T) {
	s := mustSpec(t)
	limit, ok := s.at(appleBodyPtr + "/x-max-body-bytes").(int)
	if !ok || limit != httpapi.MaxNotificationBytes {
		t.Errorf("x-max-body-bytes = %v, the code's limit is httpapi.MaxNotificationBytes = %d", s.at(appleBodyPtr+"/x-max-body-bytes"), httpapi.MaxNotificationBytes)
	}
	pad := func(n int) string {
		head := `{"signedPayload":"a.b.c","pad":"`
		return head + strings.Repeat("x", n-len(head)-2) + `"}`
	}
	for _, tc := range []struct {
		name   string
		body   string
		accept bool
	}{
		{"a signedPayload", `{"signedPayload":"a.b.c"}`, true},
		{"unknown fields are ignored", `{"signedPayload":"a.b.c","other":{"x":1}}`, true},
		{"exactly the limit", pad(httpapi.MaxNotificationBytes), true},
		{"one byte over the limit", pad(httpapi.MaxNotificationBytes + 1), false},
		{"empty", "", false},
		{"not JSON", "signedPayload=a.b.c", false},
		{"an array", `[{"signedPayload":"a.b.c"}]`, false},
		{"null", "null", false},
		{"two objects", `{"signedPayload":"a.b.c"}{"signedPayload":"a.b.c"}`, false},
		{"no signedPayload", `{}`, false},
		{"signedPayload null", `{"signedPayload":null}`, false},
		{"signedPayload empty", `{"signedPayload":""}`, false},
		{"signedPayload a number", `{"signedPayload":42}`, false},
		{"signedPayload an object", `{"signedPayload":{"jws":"a.b.c"}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schemaOK := len(tc.body) <= limit && json.Valid([]byte(tc.body)) && s.validate(t, false, appleBodyPtr+"/schema", []byte(tc.body)) == nil
			rec := appleRequest(tc.body).serve(newWorld().handler())
			var e struct {
				Code string `json:"code"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &e)
			codeOK := e.Code != string(transfer.CodeAppleInvalidBody)
			if codeOK != tc.accept {
				t.Errorf("the code takes it: %v (%d %s), the table says %v", codeOK, rec.Code, rec.Body, tc.accept)
			}
			if schemaOK != codeOK {
				t.Errorf("openapi.yaml takes it: %v, the code: %v", schemaOK, codeOK)
			}
		})
	}
}

// TestAppleNotificationsTakeNoCredential: the operation overrides the
// top-level security with none, and the handler needs none (Apple sends none).
func TestAppleNotificationsTakeNoCredential(t *testing.T) {
	s := mustSpec(t)
	if sec, ok := s.at(appleOp + "/security").([]any); !ok || len(sec) != 0 {
		t.Errorf("%s/security = %v, want [] (no credential)", appleOp, s.at(appleOp+"/security"))
	}
	rec := appleRequest(notificationBody(t, appleRoot, didRenew(appBundleID))).serve(newWorld().handler())
	if rec.Code != http.StatusOK {
		t.Errorf("a notification without any credential header: %d %s", rec.Code, rec.Body)
	}
	params, _ := s.at(appleOp + "/parameters").([]any)
	for _, p := range params {
		if m, _ := s.resolve(p).(map[string]any); m["name"] == "publisherId" && m["in"] == "path" && m["required"] == true {
			return
		}
	}
	t.Errorf("%s has no required path parameter publisherId", appleOp)
}
