package transfer

import (
	"fmt"
	"time"
)

// Code is an API error code of docs/contract.md §1–2 and §6. Its HTTP status lives with the HTTP
// adapter; the domain only says which rule refused the request.
type Code string

const (
	CodeInvalidHeaders      Code = "REQ0004"
	CodeUnauthenticated     Code = "AUTH0002"
	CodeInvalidBody         Code = "REQ0001"
	CodeForbidden           Code = "AUTH0003"
	CodeSignedTxRequired    Code = "AUTH0004"
	CodeIntegrationInactive Code = "SK2C0004"
	CodeMigrationInProgress Code = "SK2C0005"
	CodeUnknownCustomer     Code = "SK2C0100"
	CodeTransactionLocked   Code = "SK2C0103"
	CodePurchaseLocked      Code = "SK2C0104"
	CodeCorrelationIDReused Code = "REQ0006"
	CodeTooManyUnfinished   Code = "REQ0007"
	CodeInvalidPathParam    Code = "REQ0003"
	CodeNotFound            Code = "REQ0100"

	// The Apple notifications endpoint (docs/contract.md §6).
	CodeAppleInvalidBody      Code = "APL0001"
	CodeAppleUnverified       Code = "APL0002"
	CodeAppleWrongApp         Code = "APL0003"
	CodeAppleUnknownPublisher Code = "APL0004"

	// Internal errors: S + 4 digits, with a generic message only.
	CodeInternal       Code = "S0001"
	CodeStorageFailure Code = "S0002"
	CodeQueueFailure   Code = "S0003"
	// CodeSecretFailure: a key the request needs (the HS256 key of customer
	// JWTs) could not be read from Secrets Manager.
	CodeSecretFailure Code = "S0004"
)

// FieldError names the offending field of a refused request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a refusal the client is told about. Cause, when set, is for logs
// only and never reaches the client.
type Error struct {
	Code    Code
	Message string
	Details []FieldError
	// RetryAfter, when set, is how long the client should wait before trying
	// again (the Retry-After header of a 429).
	RetryAfter time.Duration
	Cause      error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// Refuse builds a client-facing error.
func Refuse(code Code, message string, details ...FieldError) *Error {
	return &Error{Code: code, Message: message, Details: details}
}

// Internal wraps an unexpected failure under a generic S#### code.
func Internal(code Code, cause error) *Error {
	return &Error{Code: code, Message: "Internal error, please retry later.", Cause: cause}
}
