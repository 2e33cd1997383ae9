package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

const transfersPath = "/purchases/transfers"

func tokenHeaders(kv ...string) http.Header {
	return headers(append([]string{"Content-Type", "application/json", "X-Publisher-Token", pubToken}, kv...)...)
}

func newTransferHandler(a *fakeAcceptor, opts ...httpapi.Option) http.Handler {
	return httpapi.NewTransferHandler(a, &fakeVerifier{}, opts...)
}

func TestTransferInvalidHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		hdr   http.Header
		field string
	}{
		{"no credential", headers("Content-Type", "application/json"), "X-Publisher-Token"},
		{"both credentials", headers("X-Publisher-Token", pubToken, "Authorization", "Bearer "+goodJWT), "X-Publisher-Token"},
		{"two publisher tokens", headers("X-Publisher-Token", pubToken, "X-Publisher-Token", pubToken), "X-Publisher-Token"},
		{"two authorization headers", headers("Authorization", "Bearer "+goodJWT, "Authorization", "Bearer "+goodJWT), "X-Publisher-Token"},
		{"empty publisher token", headers("X-Publisher-Token", ""), "X-Publisher-Token"},
		{"publisher token with a space", headers("X-Publisher-Token", pubToken+" x"), "X-Publisher-Token"},
		{"basic auth", headers("Authorization", "Basic x"), "Authorization"},
		{"bearer with an empty token", headers("Authorization", "Bearer "), "Authorization"},
		{"bearer without a token", headers("Authorization", "Bearer"), "Authorization"},
		{"bearer with two tokens", headers("Authorization", "Bearer a b"), "Authorization"},
		{"bearer token with a comma", headers("Authorization", "Bearer a,b"), "Authorization"},
		{"empty authorization", headers("Authorization", ""), "Authorization"},
		{"empty correlation id", tokenHeaders("Correlation-Id", ""), "Correlation-Id"},
		{"correlation id of 257 characters", tokenHeaders("Correlation-Id", strings.Repeat("c", 257)), "Correlation-Id"},
		{"correlation id with a space", tokenHeaders("Correlation-Id", "a b"), "Correlation-Id"},
		{"correlation id with a tab", tokenHeaders("Correlation-Id", "a\tb"), "Correlation-Id"},
		{"correlation id with DEL", tokenHeaders("Correlation-Id", "a\x7f"), "Correlation-Id"},
		{"non-ASCII correlation id", tokenHeaders("Correlation-Id", "café"), "Correlation-Id"},
		{"two correlation ids", tokenHeaders("Correlation-Id", "a", "Correlation-Id", "b"), "Correlation-Id"},
		{"text/plain", headers("Content-Type", "text/plain", "X-Publisher-Token", pubToken), "Content-Type"},
		{"form content type", headers("Content-Type", "application/x-www-form-urlencoded", "X-Publisher-Token", pubToken), "Content-Type"},
		{"json suffix type", headers("Content-Type", "application/problem+json", "X-Publisher-Token", pubToken), "Content-Type"},
		{"unparsable content type", headers("Content-Type", ";;", "X-Publisher-Token", pubToken), "Content-Type"},
		{"two content types", headers("Content-Type", "application/json", "Content-Type", "application/json", "X-Publisher-Token", pubToken), "Content-Type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acc := &fakeAcceptor{}
			rec := serve(newTransferHandler(acc), http.MethodPost, transfersPath, validBody, tc.hdr)
			e := decodeError(t, rec, http.StatusBadRequest, transfer.CodeInvalidHeaders)
			if got := e.fields(); !reflect.DeepEqual(got, []string{tc.field}) {
				t.Errorf("details name %v, want [%s]", got, tc.field)
			}
			if n := len(acc.calls()); n != 0 {
				t.Errorf("acceptor called %d times on bad headers", n)
			}
		})
	}
}

func TestTransferAcceptedHeaderVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		hdr      http.Header
		wantCorr string
		wantCred transfer.Credential
	}{
		{"publisher token", tokenHeaders(), "", transfer.Credential{Publisher: testPublisher, TokenHash: auth.HashToken(pubToken)}},
		{"customer JWT", headers("Content-Type", "application/json", "Authorization", "Bearer "+goodJWT), "", transfer.Credential{Publisher: testPublisher, Customer: testCustomer}},
		{"lower-case bearer scheme", headers("Authorization", "bearer "+goodJWT), "", transfer.Credential{Publisher: testPublisher, Customer: testCustomer}},
		{"missing content type", headers("X-Publisher-Token", pubToken), "", transfer.Credential{Publisher: testPublisher, TokenHash: auth.HashToken(pubToken)}},
		{"json with charset", headers("Content-Type", "application/json; charset=utf-8", "X-Publisher-Token", pubToken), "", transfer.Credential{Publisher: testPublisher, TokenHash: auth.HashToken(pubToken)}},
		{"json in capitals", headers("Content-Type", "Application/JSON", "X-Publisher-Token", pubToken), "", transfer.Credential{Publisher: testPublisher, TokenHash: auth.HashToken(pubToken)}},
		{"correlation id of 256 characters", tokenHeaders("Correlation-Id", strings.Repeat("c", 256)), strings.Repeat("c", 256), transfer.Credential{Publisher: testPublisher, TokenHash: auth.HashToken(pubToken)}},
		{"correlation id of punctuation", tokenHeaders("Correlation-Id", "a,b;c/d?e&f"), "a,b;c/d?e&f", transfer.Credential{Publisher: testPublisher, TokenHash: auth.HashToken(pubToken)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acc := &fakeAcceptor{}
			rec := serve(newTransferHandler(acc), http.MethodPost, transfersPath, validBody, tc.hdr)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("status = %d, want 202: %s", rec.Code, rec.Body)
			}
			calls := acc.calls()
			if len(calls) != 1 {
				t.Fatalf("acceptor called %d times", len(calls))
			}
			in := calls[0]
			if in.Credential != tc.wantCred {
				t.Errorf("credential = %+v, want %+v", in.Credential, tc.wantCred)
			}
			if in.CorrelationID != tc.wantCorr {
				t.Errorf("correlation id = %q, want %q", in.CorrelationID, tc.wantCorr)
			}
			if in.BodyError != nil {
				t.Errorf("body error on a valid body: %v", in.BodyError)
			}
			want := transfer.Request{Target: testCustomer, TransactionID: "tx-1", IPAddress: "192.0.2.1"}
			if in.Request != want {
				t.Errorf("request = %+v, want %+v", in.Request, want)
			}
		})
	}
}

func TestTransferUnauthenticated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hdr  http.Header
		body string
	}{
		{"malformed publisher token", headers("X-Publisher-Token", "pt_abc"), validBody},
		{"publisher token of publisher zero", headers("X-Publisher-Token", "pt_0_"+strings.Repeat("A", 43)), validBody},
		{"publisher token with a short secret", headers("X-Publisher-Token", "pt_7_short"), validBody},
		{"JWT the verifier rejects", headers("Authorization", "Bearer forged.jwt.value"), validBody},
		{"malformed token wins over a bad body", headers("X-Publisher-Token", "nope"), `{"cleengCustomerId":"x"}`},
		{"rejected JWT wins over a bad body", headers("Authorization", "Bearer forged"), `not json`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acc := &fakeAcceptor{}
			rec := serve(newTransferHandler(acc), http.MethodPost, transfersPath, tc.body, tc.hdr)
			e := decodeError(t, rec, http.StatusUnauthorized, transfer.CodeUnauthenticated)
			if rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if e.hasDetails() {
				t.Errorf("details on a 401: %+v", e.Details)
			}
			if strings.Contains(rec.Body.String(), "signature is invalid") {
				t.Errorf("the verifier's error reached the client: %s", rec.Body)
			}
			if n := len(acc.calls()); n != 0 {
				t.Errorf("acceptor called %d times", n)
			}
		})
	}
}

func TestTransferInvalidBody(t *testing.T) {
	t.Parallel()
	const (
		cust = "cleengCustomerId"
		tx   = "transactionId"
		ip   = "ipAddress"
		stx  = "signedTransactionInfo"
	)
	tooBig := `{"cleengCustomerId":42,"transactionId":"tx-1","pad":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`
	tests := []struct {
		name   string
		body   string
		fields []string
	}{
		{"empty body", "", []string{"body"}},
		{"whitespace body", "  \n", []string{"body"}},
		{"not JSON", "cleengCustomerId=42", []string{"body"}},
		{"broken JSON", `{"cleengCustomerId":42,`, []string{"body"}},
		{"array", `[{"cleengCustomerId":42,"transactionId":"tx-1"}]`, []string{"body"}},
		{"null", `null`, []string{"body"}},
		{"string", `"x"`, []string{"body"}},
		{"number", `42`, []string{"body"}},
		{"trailing garbage", validBody + ` x`, []string{"body"}},
		{"two objects", validBody + validBody, []string{"body"}},
		{"empty object", `{}`, []string{cust, tx}},
		{"missing customer", `{"transactionId":"tx-1"}`, []string{cust}},
		{"missing transaction", `{"cleengCustomerId":42}`, []string{tx}},
		{"null customer", `{"cleengCustomerId":null,"transactionId":"tx-1"}`, []string{cust}},
		{"customer as string", `{"cleengCustomerId":"42","transactionId":"tx-1"}`, []string{cust}},
		{"customer as float", `{"cleengCustomerId":42.5,"transactionId":"tx-1"}`, []string{cust}},
		{"customer as 42.5e-1", `{"cleengCustomerId":42.5e-1,"transactionId":"tx-1"}`, []string{cust}},
		{"customer as 1e19", `{"cleengCustomerId":1e19,"transactionId":"tx-1"}`, []string{cust}},
		{"customer zero", `{"cleengCustomerId":0,"transactionId":"tx-1"}`, []string{cust}},
		{"customer minus zero", `{"cleengCustomerId":-0,"transactionId":"tx-1"}`, []string{cust}},
		{"customer negative", `{"cleengCustomerId":-1,"transactionId":"tx-1"}`, []string{cust}},
		{"customer 2^63", `{"cleengCustomerId":9223372036854775808,"transactionId":"tx-1"}`, []string{cust}},
		{"customer as bool", `{"cleengCustomerId":true,"transactionId":"tx-1"}`, []string{cust}},
		{"customer as object", `{"cleengCustomerId":{"id":42},"transactionId":"tx-1"}`, []string{cust}},
		{"transaction empty", `{"cleengCustomerId":42,"transactionId":""}`, []string{tx}},
		{"transaction of 129 characters", `{"cleengCustomerId":42,"transactionId":"` + strings.Repeat("1", 129) + `"}`, []string{tx}},
		{"transaction with a bad character", `{"cleengCustomerId":42,"transactionId":"tx/1"}`, []string{tx}},
		{"transaction with a space", `{"cleengCustomerId":42,"transactionId":"tx 1"}`, []string{tx}},
		{"transaction as number", `{"cleengCustomerId":42,"transactionId":2000000123}`, []string{tx}},
		{"null transaction", `{"cleengCustomerId":42,"transactionId":null}`, []string{tx}},
		{"ip out of range", `{"cleengCustomerId":42,"transactionId":"tx-1","ipAddress":"256.1.1.1"}`, []string{ip}},
		{"ip v6", `{"cleengCustomerId":42,"transactionId":"tx-1","ipAddress":"2001:db8::1"}`, []string{ip}},
		{"ip v4-mapped v6", `{"cleengCustomerId":42,"transactionId":"tx-1","ipAddress":"::ffff:1.2.3.4"}`, []string{ip}},
		{"ip with leading zero", `{"cleengCustomerId":42,"transactionId":"tx-1","ipAddress":"01.2.3.4"}`, []string{ip}},
		{"ip empty", `{"cleengCustomerId":42,"transactionId":"tx-1","ipAddress":""}`, []string{ip}},
		{"ip as number", `{"cleengCustomerId":42,"transactionId":"tx-1","ipAddress":16909060}`, []string{ip}},
		{"signed transaction as number", `{"cleengCustomerId":42,"transactionId":"tx-1","signedTransactionInfo":7}`, []string{stx}},
		{"signed transaction as object", `{"cleengCustomerId":42,"transactionId":"tx-1","signedTransactionInfo":{"jws":"a.b.c"}}`, []string{stx}},
		{"signed transaction as array", `{"cleengCustomerId":42,"transactionId":"tx-1","signedTransactionInfo":["a.b.c"]}`, []string{stx}},
		{"signed transaction as bool", `{"cleengCustomerId":42,"transactionId":"tx-1","signedTransactionInfo":true}`, []string{stx}},
		{"signed transaction over the body limit", `{"cleengCustomerId":42,"transactionId":"tx-1","signedTransactionInfo":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`, []string{"body"}},
		{"every field wrong", `{"cleengCustomerId":-1,"transactionId":7,"ipAddress":"x","signedTransactionInfo":1}`, []string{cust, ip, stx, tx}},
		{"case-mismatched key", `{"CleengCustomerId":42,"transactionId":"tx-1"}`, []string{cust}},
		{"case-mismatched keys", `{"cleengcustomerid":42,"TransactionId":"tx-1"}`, []string{cust, tx}},
		{"over 16 KiB", tooBig, []string{"body"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acc := &fakeAcceptor{}
			rec := serve(newTransferHandler(acc), http.MethodPost, transfersPath, tc.body, tokenHeaders())
			e := decodeError(t, rec, http.StatusBadRequest, transfer.CodeInvalidBody)
			if got := e.fields(); !reflect.DeepEqual(got, tc.fields) {
				t.Errorf("details name %v, want %v (body %s)", got, tc.fields, rec.Body)
			}
			// The body error travels to the acceptor, which reports it only
			// once the credential is known to be good (docs/contract.md §1 order).
			calls := acc.calls()
			if len(calls) != 1 || calls[0].BodyError == nil || calls[0].BodyError.Code != transfer.CodeInvalidBody {
				t.Fatalf("acceptor intakes = %+v, want one carrying a REQ0001 body error", calls)
			}
			if calls[0].Credential.Publisher != testPublisher {
				t.Errorf("the credential did not reach the acceptor: %+v", calls[0].Credential)
			}
			if calls[0].Request != (transfer.Request{}) {
				t.Errorf("an invalid body still produced a request: %+v", calls[0].Request)
			}
		})
	}
}

func TestTransferValidBodies(t *testing.T) {
	t.Parallel()
	prefix := `{"cleengCustomerId":42,"transactionId":"tx-1","pad":"`
	suffix := `"}`
	exact := prefix + strings.Repeat("x", httpapi.MaxBodyBytes-len(prefix)-len(suffix)) + suffix
	if len(exact) != 16<<10 {
		t.Fatalf("padding is %d bytes", len(exact))
	}
	signedPrefix := `{"cleengCustomerId":42,"transactionId":"tx-1","signedTransactionInfo":"`
	bigJWS := strings.Repeat("x", httpapi.MaxBodyBytes-len(signedPrefix)-len(suffix))
	bigSigned := signedPrefix + bigJWS + suffix
	tests := []struct {
		name string
		body string
		want transfer.Request
	}{
		{"exactly 16 KiB", exact, transfer.Request{Target: 42, TransactionID: "tx-1"}},
		{"customer as 42.0", `{"cleengCustomerId":42.0,"transactionId":"tx-1"}`, transfer.Request{Target: 42, TransactionID: "tx-1"}},
		{"customer as 4.2e1", `{"cleengCustomerId":4.2e1,"transactionId":"tx-1"}`, transfer.Request{Target: 42, TransactionID: "tx-1"}},
		{"unknown fields ignored", `{"cleengCustomerId":42,"transactionId":"tx-1","offerId":"S1","nested":{"a":[1,2]}}`, transfer.Request{Target: 42, TransactionID: "tx-1"}},
		{"no ip", `{"cleengCustomerId":42,"transactionId":"tx-1"}`, transfer.Request{Target: 42, TransactionID: "tx-1"}},
		{"null ip", `{"cleengCustomerId":42,"transactionId":"tx-1","ipAddress":null}`, transfer.Request{Target: 42, TransactionID: "tx-1"}},
		{"largest customer id", `{"cleengCustomerId":9223372036854775807,"transactionId":"tx-1"}`, transfer.Request{Target: 9223372036854775807, TransactionID: "tx-1"}},
		{"ten-digit customer id", `{"cleengCustomerId":9876543210,"transactionId":"A.z_0-9"}`, transfer.Request{Target: 9876543210, TransactionID: "A.z_0-9"}},
		{"transaction of 128 characters", `{"cleengCustomerId":1,"transactionId":"` + strings.Repeat("9", 128) + `"}`, transfer.Request{Target: 1, TransactionID: strings.Repeat("9", 128)}},
		{"escaped transaction", `{"cleengCustomerId":1,"transactionId":"\u0074x"}`, transfer.Request{Target: 1, TransactionID: "tx"}},
		{"whitespace around", " \n\t" + validBody + "\n ", transfer.Request{Target: 42, TransactionID: "tx-1", IPAddress: "192.0.2.1"}},
		{"signed transaction", `{"cleengCustomerId":42,"transactionId":"tx-1","signedTransactionInfo":"eyJhbGciOiJFUzI1NiJ9.e30.c2ln"}`,
			transfer.Request{Target: 42, TransactionID: "tx-1", SignedTransactionInfo: "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"}},
		{"signed transaction null is absent", `{"cleengCustomerId":42,"transactionId":"tx-1","signedTransactionInfo":null}`, transfer.Request{Target: 42, TransactionID: "tx-1"}},
		{"signed transaction empty is absent", `{"cleengCustomerId":42,"transactionId":"tx-1","signedTransactionInfo":""}`, transfer.Request{Target: 42, TransactionID: "tx-1"}},
		{"signed transaction of a 16 KiB body", bigSigned, transfer.Request{Target: 42, TransactionID: "tx-1", SignedTransactionInfo: bigJWS}},
		{"signed transaction key is case-sensitive", `{"cleengCustomerId":42,"transactionId":"tx-1","SignedTransactionInfo":"a.b.c"}`, transfer.Request{Target: 42, TransactionID: "tx-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acc := &fakeAcceptor{}
			rec := serve(newTransferHandler(acc), http.MethodPost, transfersPath, tc.body, tokenHeaders())
			if rec.Code != http.StatusAccepted {
				t.Fatalf("status = %d: %s", rec.Code, rec.Body)
			}
			calls := acc.calls()
			if len(calls) != 1 || calls[0].BodyError != nil {
				t.Fatalf("intakes = %+v", calls)
			}
			if calls[0].Request != tc.want {
				t.Errorf("request = %+v, want %+v", calls[0].Request, tc.want)
			}
		})
	}
}

func TestTransferCheckOrder(t *testing.T) {
	t.Parallel()
	const badBody = `{"cleengCustomerId":"x"}`
	tests := []struct {
		name       string
		hdr        http.Header
		wantStatus int
		wantCode   transfer.Code
	}{
		{"missing credential beats bad body", headers("Content-Type", "application/json"), 400, transfer.CodeInvalidHeaders},
		{"bad correlation id beats bad body", tokenHeaders("Correlation-Id", "a b"), 400, transfer.CodeInvalidHeaders},
		{"bad content type beats bad body", headers("Content-Type", "text/plain", "X-Publisher-Token", pubToken), 400, transfer.CodeInvalidHeaders},
		{"bad headers beat bad credentials", headers("Content-Type", "text/plain", "X-Publisher-Token", "garbage"), 400, transfer.CodeInvalidHeaders},
		{"bad correlation id beats rejected JWT", headers("Authorization", "Bearer forged", "Correlation-Id", ""), 400, transfer.CodeInvalidHeaders},
		{"401 beats bad body", headers("Authorization", "Bearer forged"), 401, transfer.CodeUnauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acc := &fakeAcceptor{}
			rec := serve(newTransferHandler(acc), http.MethodPost, transfersPath, badBody, tc.hdr)
			decodeError(t, rec, tc.wantStatus, tc.wantCode)
			if len(acc.calls()) != 0 {
				t.Error("acceptor called")
			}
		})
	}
}

func TestTransferAccepted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		opts         []httpapi.Option
		correlation  string
		wantID       string
		wantLocation string
	}{
		{"generated id", nil, "", "GENERATEDID234567ABCDEFGHIJ", "/purchases/synchronizations/GENERATEDID234567ABCDEFGHIJ"},
		{"correlation id", nil, "order-1", "order-1", "/purchases/synchronizations/order-1"},
		{"escaped correlation id", nil, "a/b?c^d#e,f", "a/b?c^d#e,f", "/purchases/synchronizations/" + url.PathEscape("a/b?c^d#e,f")},
		{"base path", []httpapi.Option{httpapi.WithBasePath("/storekit2")}, "x", "x", "/storekit2/purchases/synchronizations/x"},
		{"base path with a trailing slash", []httpapi.Option{httpapi.WithBasePath("/storekit2/")}, "x", "x", "/storekit2/purchases/synchronizations/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := tokenHeaders()
			if tc.correlation != "" {
				hdr.Set("Correlation-Id", tc.correlation)
			}
			rec := serve(newTransferHandler(&fakeAcceptor{}, tc.opts...), http.MethodPost, transfersPath, validBody, hdr)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("status = %d: %s", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tc.wantLocation {
				t.Errorf("Location = %q, want %q", got, tc.wantLocation)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(body, map[string]any{"synchronizationId": tc.wantID}) {
				t.Errorf("body = %v, want exactly {synchronizationId: %q}", body, tc.wantID)
			}
		})
	}
}

func TestTransferReplayIsAccepted(t *testing.T) {
	t.Parallel()
	acc := &fakeAcceptor{answer: func(in transfer.Intake) (transfer.Accepted, error) {
		return transfer.Accepted{Synchronization: transfer.Synchronization{ID: in.CorrelationID, Status: transfer.StatusFinalized}, Replayed: true}, nil
	}}
	rec := serve(newTransferHandler(acc), http.MethodPost, transfersPath, validBody, tokenHeaders("Correlation-Id", "again"))
	if rec.Code != http.StatusAccepted || rec.Header().Get("Location") != "/purchases/synchronizations/again" {
		t.Errorf("replay answered %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
}

func TestTransferLocationServesTheSameID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"plain", "a/b", "a:b", "q?x=1#f", "sp[ace]", "~!*'();:@&=+$,", strings.Repeat("z", 256)} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			status := &fakeStatusReader{sync: transfer.Synchronization{Status: transfer.StatusProcessing}}
			h := httpapi.NewHandler(&fakeAcceptor{}, status, &fakeVerifier{})
			rec := serve(h, http.MethodPost, transfersPath, validBody, tokenHeaders("Correlation-Id", id))
			if rec.Code != http.StatusAccepted {
				t.Fatalf("POST: %d %s", rec.Code, rec.Body)
			}
			loc := rec.Header().Get("Location")
			rec = serve(h, http.MethodGet, loc, "", headers("X-Publisher-Token", pubToken))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", loc, rec.Code, rec.Body)
			}
			if len(status.calls) != 1 || status.calls[0].id != id {
				t.Errorf("GET %s read %+v, want id %q", loc, status.calls, id)
			}
		})
	}
}

func TestTransferErrorCodesToHTTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   transfer.Code
		status int
	}{
		{transfer.CodeInvalidHeaders, 400},
		{transfer.CodeUnauthenticated, 401},
		{transfer.CodeInvalidBody, 400},
		{transfer.CodeForbidden, 403},
		{transfer.CodeIntegrationInactive, 500},
		{transfer.CodeMigrationInProgress, 422},
		{transfer.CodeUnknownCustomer, 422},
		{transfer.CodeTransactionLocked, 409},
		{transfer.CodePurchaseLocked, 409},
		{transfer.CodeCorrelationIDReused, 409},
		{transfer.CodeNotFound, 404},
		{transfer.CodeInternal, 500},
		{transfer.CodeStorageFailure, 500},
		{transfer.CodeQueueFailure, 500},
		{"S0999", 500},
	}
	for _, tc := range tests {
		t.Run(string(tc.code), func(t *testing.T) {
			t.Parallel()
			details := []transfer.FieldError{{Field: "cleengCustomerId", Message: "m"}}
			acc := &fakeAcceptor{answer: func(transfer.Intake) (transfer.Accepted, error) {
				return transfer.Accepted{}, fmt.Errorf("wrapped: %w", transfer.Refuse(tc.code, "refused", details...))
			}}
			rec := serve(newTransferHandler(acc), http.MethodPost, transfersPath, validBody, tokenHeaders())
			e := decodeError(t, rec, tc.status, tc.code)
			if got := e.fields(); !reflect.DeepEqual(got, []string{"cleengCustomerId"}) {
				t.Errorf("details = %v", got)
			}
			if rec.Header().Get("Location") != "" {
				t.Error("an error carries a Location")
			}
		})
	}
}

func TestTransferInternalErrorsAreGeneric(t *testing.T) {
	t.Parallel()
	const secret = "AccessDeniedException: arn:aws:dynamodb:eu-west-1:123456789012:table/secret"
	tests := []struct {
		name     string
		answer   func(transfer.Intake) (transfer.Accepted, error)
		wantCode transfer.Code
	}{
		{"plain error", func(transfer.Intake) (transfer.Accepted, error) { return transfer.Accepted{}, errors.New(secret) }, transfer.CodeInternal},
		{"internal with cause", func(transfer.Intake) (transfer.Accepted, error) {
			return transfer.Accepted{}, transfer.Internal(transfer.CodeQueueFailure, errors.New(secret))
		}, transfer.CodeQueueFailure},
		{"panic", func(transfer.Intake) (transfer.Accepted, error) { panic(secret) }, transfer.CodeInternal},
		{"panic with an error", func(transfer.Intake) (transfer.Accepted, error) { panic(errors.New(secret)) }, transfer.CodeInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(newTransferHandler(&fakeAcceptor{answer: tc.answer}), http.MethodPost, transfersPath, validBody, tokenHeaders())
			e := decodeError(t, rec, http.StatusInternalServerError, tc.wantCode)
			for _, leak := range []string{"AccessDenied", "arn:", "secret", "panic", "goroutine"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("body leaks %q: %s", leak, rec.Body)
				}
			}
			if e.hasDetails() {
				t.Errorf("internal error has details: %+v", e.Details)
			}
		})
	}
}

func TestTransferAbortHandlerPanicPropagates(t *testing.T) {
	t.Parallel()
	acc := &fakeAcceptor{answer: func(transfer.Intake) (transfer.Accepted, error) { panic(http.ErrAbortHandler) }}
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler to pass through", v)
		}
	}()
	serve(newTransferHandler(acc), http.MethodPost, transfersPath, validBody, tokenHeaders())
	t.Error("the handler swallowed http.ErrAbortHandler")
}

func TestErrorRequestIDsDiffer(t *testing.T) {
	t.Parallel()
	h := newTransferHandler(&fakeAcceptor{})
	a := decodeError(t, serve(h, http.MethodPost, transfersPath, validBody, nil), 400, transfer.CodeInvalidHeaders)
	b := decodeError(t, serve(h, http.MethodPost, transfersPath, validBody, nil), 400, transfer.CodeInvalidHeaders)
	if a.RequestID == b.RequestID {
		t.Errorf("two requests share requestId %q", a.RequestID)
	}
}

func TestTransferWithUnconfiguredJWTIs401(t *testing.T) {
	t.Parallel()
	enc := base64.RawURLEncoding.EncodeToString
	token := enc([]byte(`{"alg":"RS256","typ":"JWT","kid":"k"}`)) + "." +
		enc([]byte(`{"customerId":42,"publisherId":7,"exp":4102444800}`)) + "." + enc([]byte("sig"))
	acc := &fakeAcceptor{}
	h := httpapi.NewTransferHandler(acc, auth.NewVerifier(auth.JWTConfig{}))
	rec := serve(h, http.MethodPost, transfersPath, validBody, headers("Authorization", "Bearer "+token))
	decodeError(t, rec, http.StatusUnauthorized, transfer.CodeUnauthenticated)
	if len(acc.calls()) != 0 {
		t.Error("acceptor called")
	}
}

// TestTransferTooManyUnfinished: a REQ0007 refusal is a 429 with its
// Retry-After in whole seconds, rounded up; no other answer carries one.
func TestTransferTooManyUnfinished(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		after time.Duration
		want  string
	}{{5 * time.Second, "5"}, {1500 * time.Millisecond, "2"}, {time.Millisecond, "1"}} {
		acc := &fakeAcceptor{answer: func(transfer.Intake) (transfer.Accepted, error) {
			e := transfer.Refuse(transfer.CodeTooManyUnfinished, "Too many synchronizations of this customer are unfinished; retry later.")
			e.RetryAfter = tc.after
			return transfer.Accepted{}, e
		}}
		rec := serve(newTransferHandler(acc), http.MethodPost, transfersPath, validBody, headers("X-Publisher-Token", pubToken))
		decodeError(t, rec, http.StatusTooManyRequests, transfer.CodeTooManyUnfinished)
		if got := rec.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("RetryAfter %v: Retry-After %q, want %q", tc.after, got, tc.want)
		}
	}
	acc := &fakeAcceptor{answer: func(transfer.Intake) (transfer.Accepted, error) {
		return transfer.Accepted{}, transfer.Refuse(transfer.CodeTransactionLocked, "An unfinished synchronization already holds this transaction.")
	}}
	rec := serve(newTransferHandler(acc), http.MethodPost, transfersPath, validBody, headers("X-Publisher-Token", pubToken))
	if got := rec.Header().Get("Retry-After"); got != "" {
		t.Errorf("a 409 with Retry-After %q", got)
	}
}
