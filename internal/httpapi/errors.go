package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// httpStatusOf is the HTTP status of each error code of docs/contract.md §1–2 and §6.
var httpStatusOf = map[transfer.Code]int{
	transfer.CodeInvalidHeaders:      http.StatusBadRequest,
	transfer.CodeUnauthenticated:     http.StatusUnauthorized,
	transfer.CodeInvalidBody:         http.StatusBadRequest,
	transfer.CodeForbidden:           http.StatusForbidden,
	transfer.CodeIntegrationInactive: http.StatusInternalServerError,
	transfer.CodeMigrationInProgress: http.StatusUnprocessableEntity,
	transfer.CodeUnknownCustomer:     http.StatusUnprocessableEntity,
	transfer.CodeTransactionLocked:   http.StatusConflict,
	transfer.CodePurchaseLocked:      http.StatusConflict,
	transfer.CodeCorrelationIDReused: http.StatusConflict,
	transfer.CodeTooManyUnfinished:   http.StatusTooManyRequests,
	transfer.CodeInvalidPathParam:    http.StatusBadRequest,
	transfer.CodeNotFound:            http.StatusNotFound,
	transfer.CodeSignedTxRequired:    http.StatusForbidden,

	transfer.CodeAppleInvalidBody:      http.StatusBadRequest,
	transfer.CodeAppleUnverified:       http.StatusBadRequest,
	transfer.CodeAppleWrongApp:         http.StatusBadRequest,
	transfer.CodeAppleUnknownPublisher: http.StatusNotFound,
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Code      transfer.Code         `json:"code"`
	Message   string                `json:"message"`
	RequestID string                `json:"requestId"`
	Details   []transfer.FieldError `json:"details,omitempty"`
}

// writeError answers with the documented code of err. Anything that is not a
// *transfer.Error is an internal error: its text goes to the log, never to
// the client.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *transfer.Error
	if !errors.As(err, &e) {
		e = transfer.Internal(transfer.CodeInternal, err)
	}
	status, ok := httpStatusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	ctx := r.Context()
	if status >= 500 {
		slog.ErrorContext(ctx, "request failed", "code", e.Code, "status", status, "error", err)
	} else {
		slog.InfoContext(ctx, "request refused", "code", e.Code, "status", status)
	}
	if a := noted(ctx); a != nil {
		a.Code = e.Code
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer, X-Publisher-Token`)
	}
	if e.RetryAfter > 0 {
		// Whole seconds (RFC 9110 §10.2.3), rounded up: never sooner than asked.
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	writeJSON(w, status, errorBody{Code: e.Code, Message: e.Message, RequestID: requestID(ctx), Details: e.Details})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client went away; nothing to do
}

// requestID is the Lambda request id, also on every log line of the request.
func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
