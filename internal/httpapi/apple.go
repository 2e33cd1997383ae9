package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// NotificationReceiver is the Apple notifications use case.
type NotificationReceiver interface {
	Receive(ctx context.Context, publisher transfer.PublisherID, signedPayload string) (appstore.Outcome, error)
}

// pathAppleNotifications is the URL a publisher enters in App Store Connect.
const pathAppleNotifications = "/apple/notifications/"

// MaxNotificationBytes bounds a notification body. Apple's are a few KiB (a
// JWS with three certificates, twice nested); anything far larger is not one.
const MaxNotificationBytes = 256 << 10

// NewAppleNotificationHandler serves POST /apple/notifications/{publisherId}
// (docs/contract.md §6). There is no credential header: Apple sends none, and
// the signed payload is its own proof. Of its options only WithObserver
// matters.
func NewAppleNotificationHandler(rcv NotificationReceiver, opts ...Option) http.Handler {
	h := route{method: http.MethodPost, path: pathAppleNotifications, param: "publisherId", next: appleHandler{receive: rcv}}
	return withRequestContext(EndpointApple, buildOptions(opts), h)
}

type appleHandler struct {
	receive NotificationReceiver
}

// receivedBody is the 200 answer; Apple reads only the status, operators the outcome.
type receivedBody struct {
	Outcome appstore.Outcome `json:"outcome"`
}

func (h appleHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	signed, herr := readSignedPayload(r)
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	// A publisher id that is not a positive integer names no publisher: the
	// receiver answers it as unknown, after the signature, like any other.
	publisher, err := strconv.ParseInt(r.PathValue("publisherId"), 10, 64)
	if err != nil {
		publisher = 0
	}
	outcome, err := h.receive.Receive(r.Context(), transfer.PublisherID(publisher), signed)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if a := noted(r.Context()); a != nil {
		a.Outcome = outcome
	}
	writeJSON(w, http.StatusOK, receivedBody{Outcome: outcome})
}

// readSignedPayload reads {"signedPayload": "<JWS>"}; other keys are ignored,
// as Apple may add some.
func readSignedPayload(r *http.Request) (string, *transfer.Error) {
	refuse := func(msg string) (string, *transfer.Error) {
		return "", transfer.Refuse(transfer.CodeAppleInvalidBody, "The body must be a JSON object with a signedPayload string.",
			transfer.FieldError{Field: "signedPayload", Message: msg})
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxNotificationBytes+1))
	if err != nil || len(body) > MaxNotificationBytes {
		return refuse("body unreadable or over 256 KiB")
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.Decode(&struct{}{}) != io.EOF {
		return refuse("body is not a single JSON object")
	}
	raw, ok := present(fields, "signedPayload")
	if !ok {
		return refuse("is required")
	}
	var signed string
	if err := json.Unmarshal(raw, &signed); err != nil || signed == "" {
		return refuse("must be a non-empty string")
	}
	return signed, nil
}
