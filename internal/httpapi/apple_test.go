package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

type fakeReceiver struct {
	publishers []transfer.PublisherID
	payloads   []string
	err        error
}

func (f *fakeReceiver) Receive(_ context.Context, p transfer.PublisherID, signed string) (appstore.Outcome, error) {
	f.publishers, f.payloads = append(f.publishers, p), append(f.payloads, signed)
	return appstore.OutcomeApplied, f.err
}

func TestAppleNotificationBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
	}{
		{"empty", ""},
		{"not JSON", `{"signedPayload":`},
		{"an array", `["x"]`},
		{"null", `null`},
		{"two objects", `{"signedPayload":"a"}{"signedPayload":"b"}`},
		{"missing", `{"payload":"a.b.c"}`},
		{"null payload", `{"signedPayload":null}`},
		{"a number", `{"signedPayload":7}`},
		{"empty string", `{"signedPayload":""}`},
		{"over 256 KiB", `{"signedPayload":"` + strings.Repeat("a", 256<<10) + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcv := &fakeReceiver{}
			rec := serve(httpapi.NewAppleNotificationHandler(rcv), http.MethodPost, "/apple/notifications/7", tc.body, nil)
			e := decodeError(t, rec, http.StatusBadRequest, transfer.CodeAppleInvalidBody)
			if f := e.fields(); len(f) != 1 || f[0] != "signedPayload" {
				t.Errorf("details %v", f)
			}
			if len(rcv.payloads) != 0 {
				t.Error("receiver called on a bad body")
			}
		})
	}
}

func TestAppleNotificationAccepted(t *testing.T) {
	t.Parallel()
	rcv := &fakeReceiver{}
	rec := serve(httpapi.NewAppleNotificationHandler(rcv), http.MethodPost, "/apple/notifications/7", `{"signedPayload":"a.b.c","other":1}`, nil)
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); rec.Code != http.StatusOK || err != nil || body["outcome"] != "applied" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(rcv.payloads) != 1 || rcv.payloads[0] != "a.b.c" || rcv.publishers[0] != 7 {
		t.Errorf("receiver saw %v %v", rcv.publishers, rcv.payloads)
	}
	// A publisher id that is not a positive integer reaches the receiver as 0,
	// which answers it as unknown after checking the signature.
	serve(httpapi.NewAppleNotificationHandler(rcv), http.MethodPost, "/apple/notifications/abc", `{"signedPayload":"a.b.c"}`, nil)
	if rcv.publishers[1] != 0 {
		t.Errorf("publisher %d, want 0", rcv.publishers[1])
	}
}

func TestAppleNotificationErrors(t *testing.T) {
	t.Parallel()
	for code, status := range map[transfer.Code]int{
		transfer.CodeAppleUnverified:       http.StatusBadRequest,
		transfer.CodeAppleWrongApp:         http.StatusBadRequest,
		transfer.CodeAppleUnknownPublisher: http.StatusNotFound,
	} {
		rcv := &fakeReceiver{err: transfer.Refuse(code, "no")}
		rec := serve(httpapi.NewAppleNotificationHandler(rcv), http.MethodPost, "/apple/notifications/7", `{"signedPayload":"a.b.c"}`, nil)
		decodeError(t, rec, status, code)
	}
	rcv := &fakeReceiver{err: transfer.Internal(transfer.CodeStorageFailure, context.DeadlineExceeded)}
	rec := serve(httpapi.NewAppleNotificationHandler(rcv), http.MethodPost, "/apple/notifications/7", `{"signedPayload":"a.b.c"}`, nil)
	decodeError(t, rec, http.StatusInternalServerError, transfer.CodeStorageFailure)
	if strings.Contains(rec.Body.String(), "deadline") {
		t.Errorf("internal error text leaked: %s", rec.Body)
	}
}
