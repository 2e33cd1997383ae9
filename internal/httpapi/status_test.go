package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

const syncsPath = "/purchases/synchronizations/"

func TestStatusInvalidPathParameter(t *testing.T) {
	t.Parallel()
	paths := map[string]string{
		"empty with slash":    "/purchases/synchronizations/",
		"empty without slash": "/purchases/synchronizations",
		"257 characters":      syncsPath + strings.Repeat("s", 257),
		"space":               syncsPath + "%20",
		"inner space":         syncsPath + "a%20b",
		"DEL":                 syncsPath + "%7F",
		"control character":   syncsPath + "a%00",
		"non-ASCII":           syncsPath + "caf%C3%A9",
	}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, hdr := range []http.Header{
				headers("X-Publisher-Token", pubToken),
				nil, // the path parameter is checked before the headers
				headers("Authorization", "Basic x"),
			} {
				status := &fakeStatusReader{}
				rec := serve(httpapi.NewStatusHandler(status, &fakeVerifier{}), http.MethodGet, path, "", hdr)
				e := decodeError(t, rec, http.StatusBadRequest, transfer.CodeInvalidPathParam)
				if got := e.fields(); !reflect.DeepEqual(got, []string{"synchronizationId"}) {
					t.Errorf("details = %v", got)
				}
				if status.callCount() != 0 {
					t.Error("status reader called")
				}
			}
		})
	}
}

func TestStatusHeadersAndAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		hdr        http.Header
		wantStatus int
		wantCode   transfer.Code
	}{
		{"no credential", nil, 400, transfer.CodeInvalidHeaders},
		{"both credentials", headers("X-Publisher-Token", pubToken, "Authorization", "Bearer "+goodJWT), 400, transfer.CodeInvalidHeaders},
		{"two tokens", headers("X-Publisher-Token", pubToken, "X-Publisher-Token", pubToken), 400, transfer.CodeInvalidHeaders},
		{"basic auth", headers("Authorization", "Basic x"), 400, transfer.CodeInvalidHeaders},
		{"empty bearer", headers("Authorization", "Bearer "), 400, transfer.CodeInvalidHeaders},
		{"malformed token", headers("X-Publisher-Token", "pt_x"), 401, transfer.CodeUnauthenticated},
		{"rejected JWT", headers("Authorization", "Bearer forged"), 401, transfer.CodeUnauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status := &fakeStatusReader{}
			rec := serve(httpapi.NewStatusHandler(status, &fakeVerifier{}), http.MethodGet, syncsPath+"s-1", "", tc.hdr)
			decodeError(t, rec, tc.wantStatus, tc.wantCode)
			if tc.wantStatus == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if status.callCount() != 0 {
				t.Error("status reader called")
			}
		})
	}
}

func TestStatusPassesCredentialAndID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hdr  http.Header
		path string
		id   string
		cred transfer.Credential
	}{
		{"publisher token", headers("X-Publisher-Token", pubToken), syncsPath + "s-1", "s-1", transfer.Credential{Publisher: testPublisher, TokenHash: auth.HashToken(pubToken)}},
		{"customer JWT", headers("Authorization", "Bearer "+goodJWT), syncsPath + "s-1", "s-1", transfer.Credential{Publisher: testPublisher, Customer: testCustomer}},
		{"256 characters", headers("X-Publisher-Token", pubToken), syncsPath + strings.Repeat("s", 256), strings.Repeat("s", 256), transfer.Credential{Publisher: testPublisher, TokenHash: auth.HashToken(pubToken)}},
		{"escaped id", headers("X-Publisher-Token", pubToken), syncsPath + "a%2Cb%2Fc%3F", "a,b/c?", transfer.Credential{Publisher: testPublisher, TokenHash: auth.HashToken(pubToken)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status := &fakeStatusReader{sync: transfer.Synchronization{Status: transfer.StatusProcessing}}
			rec := serve(httpapi.NewStatusHandler(status, &fakeVerifier{}), http.MethodGet, tc.path, "", tc.hdr)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d: %s", rec.Code, rec.Body)
			}
			if want := []statusCall{{cred: tc.cred, id: tc.id}}; !reflect.DeepEqual(status.calls, want) {
				t.Errorf("calls = %+v, want %+v", status.calls, want)
			}
		})
	}
}

func TestStatusBody(t *testing.T) {
	t.Parallel()
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	updated := created.Add(time.Minute)
	base := transfer.Synchronization{
		PublisherID:   testPublisher,
		ID:            "s-1",
		TransactionID: "tx-1",
		Target:        testCustomer,
		CreatedAt:     created,
		UpdatedAt:     updated,
	}
	with := func(mod func(*transfer.Synchronization)) transfer.Synchronization {
		s := base
		mod(&s)
		return s
	}
	tests := []struct {
		name string
		sync transfer.Synchronization
		want map[string]any // the docs/contract.md §2 fields; extensions are checked apart
	}{
		{
			name: "processing",
			sync: with(func(s *transfer.Synchronization) { s.Status = transfer.StatusProcessing }),
			want: map[string]any{"status": "processing"},
		},
		{
			name: "processing with a correlation id",
			sync: with(func(s *transfer.Synchronization) { s.Status = transfer.StatusProcessing; s.CorrelationID = "s-1" }),
			want: map[string]any{"status": "processing", "correlationId": "s-1"},
		},
		{
			name: "retrying",
			sync: with(func(s *transfer.Synchronization) { s.Status = transfer.StatusRetrying; s.Attempts = 2 }),
			want: map[string]any{"status": "retrying"},
		},
		{
			name: "transferred",
			sync: with(func(s *transfer.Synchronization) {
				s.Status = transfer.StatusFinalized
				s.Result = transfer.ResultTransferred
				s.OfferID = "S123456789_US"
				s.PreviousOwner = 11
				s.CorrelationID = "s-1"
			}),
			want: map[string]any{"status": "finalized", "correlationId": "s-1", "accessGranted": true, "offerId": "S123456789_US", "result": "PURCHASE_OWNERSHIP_TRANSFERRED"},
		},
		{
			name: "unchanged",
			sync: with(func(s *transfer.Synchronization) {
				s.Status = transfer.StatusFinalized
				s.Result = transfer.ResultUnchanged
				s.OfferID = "S1"
			}),
			want: map[string]any{"status": "finalized", "accessGranted": true, "offerId": "S1", "result": "PURCHASE_OWNERSHIP_UNCHANGED"},
		},
		{
			name: "expired hides an offer it may carry",
			sync: with(func(s *transfer.Synchronization) {
				s.Status = transfer.StatusFinalized
				s.Result = transfer.ResultExpired
				s.OfferID = "S1"
			}),
			want: map[string]any{"status": "finalized", "accessGranted": false, "result": "RECEIVED_EXPIRED_PURCHASE"},
		},
		{
			name: "not found",
			sync: with(func(s *transfer.Synchronization) {
				s.Status = transfer.StatusFinalized
				s.Result = transfer.ResultNotFound
			}),
			want: map[string]any{"status": "finalized", "accessGranted": false, "result": "TRANSACTION_ID_NOT_FOUND"},
		},
		{
			name: "transfer failed",
			sync: with(func(s *transfer.Synchronization) {
				s.Status = transfer.StatusFinalized
				s.Result = transfer.ResultTransferFailed
			}),
			want: map[string]any{"status": "finalized", "accessGranted": false, "result": "TRANSFER_FAILED"},
		},
		{
			name: "an offer of an unfinished record is not shown",
			sync: with(func(s *transfer.Synchronization) {
				s.Status = transfer.StatusRetrying
				s.OfferID = "S1"
				s.Result = transfer.ResultTransferred
			}),
			want: map[string]any{"status": "retrying"},
		},
	}
	extensions := map[string]bool{"synchronizationId": true, "createdAt": true, "updatedAt": true}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status := &fakeStatusReader{sync: tc.sync}
			rec := serve(httpapi.NewStatusHandler(status, &fakeVerifier{}), http.MethodGet, syncsPath+"s-1", "", headers("X-Publisher-Token", pubToken))
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d: %s", rec.Code, rec.Body)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			spec := map[string]any{}
			for k, v := range body {
				if !extensions[k] {
					spec[k] = v
				}
			}
			if !reflect.DeepEqual(spec, tc.want) {
				t.Errorf("body fields = %v, want %v (body %s)", spec, tc.want, rec.Body)
			}
			if body["synchronizationId"] != "s-1" {
				t.Errorf("synchronizationId = %v", body["synchronizationId"])
			}
			if body["createdAt"] != created.Format(time.RFC3339) || body["updatedAt"] != updated.Format(time.RFC3339) {
				t.Errorf("createdAt %v updatedAt %v", body["createdAt"], body["updatedAt"])
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		panic      any
		wantStatus int
		wantCode   transfer.Code
	}{
		{"unknown", transfer.Refuse(transfer.CodeNotFound, "The synchronization does not exist."), nil, 404, transfer.CodeNotFound},
		{"dead token", transfer.Refuse(transfer.CodeUnauthenticated, "The credentials are not valid."), nil, 401, transfer.CodeUnauthenticated},
		{"storage", transfer.Internal(transfer.CodeStorageFailure, errors.New("dynamodb secret")), nil, 500, transfer.CodeStorageFailure},
		{"plain error", errors.New("dynamodb secret"), nil, 500, transfer.CodeInternal},
		{"panic", nil, "dynamodb secret", 500, transfer.CodeInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status := &fakeStatusReader{err: tc.err, panic: tc.panic}
			rec := serve(httpapi.NewStatusHandler(status, &fakeVerifier{}), http.MethodGet, syncsPath+"s-1", "", headers("X-Publisher-Token", pubToken))
			decodeError(t, rec, tc.wantStatus, tc.wantCode)
			if strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("body leaks the cause: %s", rec.Body)
			}
		})
	}
}

func TestNewHandlerRoutesBothEndpoints(t *testing.T) {
	t.Parallel()
	acc := &fakeAcceptor{}
	status := &fakeStatusReader{sync: transfer.Synchronization{Status: transfer.StatusProcessing}}
	h := httpapi.NewHandler(acc, status, &fakeVerifier{})
	if rec := serve(h, http.MethodPost, transfersPath, validBody, tokenHeaders()); rec.Code != http.StatusAccepted {
		t.Errorf("POST transfers = %d", rec.Code)
	}
	if rec := serve(h, http.MethodGet, syncsPath+"x", "", headers("X-Publisher-Token", pubToken)); rec.Code != http.StatusOK {
		t.Errorf("GET synchronization = %d", rec.Code)
	}
	rec := serve(h, http.MethodGet, "/purchases/synchronizations", "", nil)
	decodeError(t, rec, http.StatusBadRequest, transfer.CodeInvalidPathParam)
	if len(acc.calls()) != 1 || status.callCount() != 1 {
		t.Errorf("acceptor %d calls, status %d calls", len(acc.calls()), status.callCount())
	}
}
