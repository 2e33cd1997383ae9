package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// MaxBodyBytes is the largest transfer request body accepted (16 KiB).
const MaxBodyBytes = 16 << 10

// Field names of the transfer request body.
const (
	fieldCustomerID    = "cleengCustomerId"
	fieldTransactionID = "transactionId"
	fieldIPAddress     = "ipAddress"
	fieldSignedTxInfo  = "signedTransactionInfo"
)

var integerLiteral = regexp.MustCompile(`^-?[0-9]+$`)

// readTransferBody parses and validates the body of docs/contract.md §1. Keys match
// exactly (encoding/json alone would match them case-insensitively); unknown
// keys are ignored.
func readTransferBody(r *http.Request) (transfer.Request, *transfer.Error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return transfer.Request{}, invalidBody(transfer.FieldError{Field: "body", Message: "could not be read"})
	}
	if len(body) > MaxBodyBytes {
		return transfer.Request{}, invalidBody(transfer.FieldError{Field: "body", Message: "must not exceed 16 KiB"})
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return transfer.Request{}, invalidBody(transfer.FieldError{Field: "body", Message: "must be a JSON object"})
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		return transfer.Request{}, invalidBody(transfer.FieldError{Field: "body", Message: "must be a single valid JSON object"})
	}

	var req transfer.Request
	var details []transfer.FieldError
	problem := func(field, message string) {
		details = append(details, transfer.FieldError{Field: field, Message: message})
	}

	switch raw, ok := present(fields, fieldCustomerID); {
	case !ok:
		problem(fieldCustomerID, "is required")
	case !integerLiteral.Match(raw):
		problem(fieldCustomerID, "must be an integer")
	default:
		id, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || id <= 0 {
			problem(fieldCustomerID, "must be a positive 64-bit integer")
		}
		req.Target = transfer.CustomerID(id)
	}

	switch raw, ok := present(fields, fieldTransactionID); {
	case !ok:
		problem(fieldTransactionID, "is required")
	case json.Unmarshal(raw, &req.TransactionID) != nil:
		problem(fieldTransactionID, "must be a string")
	case !transfer.ValidTransactionID(req.TransactionID):
		problem(fieldTransactionID, "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
	}

	if raw, ok := present(fields, fieldIPAddress); ok {
		switch {
		case json.Unmarshal(raw, &req.IPAddress) != nil:
			problem(fieldIPAddress, "must be a string")
		case !transfer.ValidIPv4(req.IPAddress):
			problem(fieldIPAddress, "must be a dotted-quad IPv4 address")
		}
	}
	// The signed transaction is only typed here; whether it is needed and
	// whether it verifies is the acceptor's AUTH0004 check. Its size is
	// bounded by the body's.
	if raw, ok := present(fields, fieldSignedTxInfo); ok && json.Unmarshal(raw, &req.SignedTransactionInfo) != nil {
		problem(fieldSignedTxInfo, "must be a string")
	}
	if details != nil {
		return transfer.Request{}, invalidBody(details...)
	}
	return req, nil
}

// present returns a field's raw value; JSON null counts as absent.
func present(fields map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	raw, ok := fields[name]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return nil, false
	}
	return raw, true
}

func invalidBody(details ...transfer.FieldError) *transfer.Error {
	return transfer.Refuse(transfer.CodeInvalidBody, "The request body is invalid.", details...)
}
