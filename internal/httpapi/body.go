package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

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

// jsonNumber is JSON's number grammar (RFC 8259 §6), in parts: sign, integer
// digits, fraction digits, exponent.
var jsonNumber = regexp.MustCompile(`^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$`)

// maxInt64Digits is the number of decimal digits of the largest int64.
const maxInt64Digits = 19

// integralNumber reads a JSON number whose value is an integer, however it is
// written: 42, 42.0 and 4.2e1 are all the integer 42, as JSON Schema's
// "integer" says (the OpenAPI file's type). It reports whether raw is an
// integer at all; an integer outside int64 comes back as 0 (out of range).
// It works on the digits, never computing 10^exponent, so an exponent of a
// billion costs nothing.
func integralNumber(raw []byte) (int64, bool) {
	m := jsonNumber.FindSubmatch(raw)
	if m == nil {
		return 0, false
	}
	negative, digits := len(m[1]) > 0, string(m[2])+string(m[3])
	exp := -len(m[3])
	if len(m[4]) > 0 {
		e, err := strconv.Atoi(string(m[4]))
		if err != nil || e > 1<<20 || e < -(1<<20) {
			// So large an exponent: zero, an integer far out of range, or
			// a fraction (the digits are at most a 16 KiB body's).
			return 0, strings.Trim(digits, "0") == "" || m[4][0] != '-'
		}
		exp += e
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	digits = strings.TrimLeft(trimmed, "0")
	switch {
	case digits == "":
		return 0, true // zero
	case exp < 0:
		return 0, false // a non-zero digit after the point
	case len(digits)+exp > maxInt64Digits:
		return 0, true
	}
	if negative {
		digits = "-" + digits
	}
	n, err := strconv.ParseInt(digits+strings.Repeat("0", exp), 10, 64)
	if err != nil {
		return 0, true
	}
	return n, true
}

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
	default:
		id, integer := integralNumber(raw)
		switch {
		case !integer:
			problem(fieldCustomerID, "must be an integer")
		case id <= 0:
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
