package httpapi

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// Header names of docs/contract.md §1.
const (
	headerPublisherToken = "X-Publisher-Token"
	headerAuthorization  = "Authorization"
	headerCorrelationID  = "Correlation-Id"
	headerContentType    = "Content-Type"
)

// JWTVerifier checks a customer JWT.
type JWTVerifier interface {
	Verify(ctx context.Context, token string) (transfer.Credential, error)
}

// presentedCredential is a credential as sent, before it is checked.
type presentedCredential struct {
	publisherToken string
	bearer         string
}

// readCredential enforces "exactly one credential, well formed" (REQ0004).
func readCredential(r *http.Request) (presentedCredential, *transfer.Error) {
	tokens := r.Header.Values(headerPublisherToken)
	auths := r.Header.Values(headerAuthorization)
	if len(tokens)+len(auths) != 1 {
		return presentedCredential{}, transfer.Refuse(transfer.CodeInvalidHeaders,
			"Exactly one of the X-Publisher-Token and Authorization headers is required.",
			transfer.FieldError{Field: headerPublisherToken, Message: "exactly one credential header is required"})
	}
	if len(tokens) == 1 {
		if tokens[0] == "" || strings.ContainsAny(tokens[0], " \t,") {
			return presentedCredential{}, transfer.Refuse(transfer.CodeInvalidHeaders, "The X-Publisher-Token header is malformed.",
				transfer.FieldError{Field: headerPublisherToken, Message: "malformed"})
		}
		return presentedCredential{publisherToken: tokens[0]}, nil
	}
	scheme, token, ok := strings.Cut(auths[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t,") {
		return presentedCredential{}, transfer.Refuse(transfer.CodeInvalidHeaders, "The Authorization header must be a Bearer token.",
			transfer.FieldError{Field: headerAuthorization, Message: "must be 'Bearer <JWT>'"})
	}
	return presentedCredential{bearer: token}, nil
}

// credentialOf reads and authenticates the credential of a request that has
// no other headers to check in between.
func credentialOf(r *http.Request, v JWTVerifier) (transfer.Credential, *transfer.Error) {
	presented, herr := readCredential(r)
	if herr != nil {
		return transfer.Credential{}, herr
	}
	return authenticate(r.Context(), v, presented)
}

// authenticate checks what can be checked without storage: a JWT's signature
// and claims, a token's shape. Whether a token is live is the Directory's
// answer, later. Failures are 401.
func authenticate(ctx context.Context, v JWTVerifier, c presentedCredential) (transfer.Credential, *transfer.Error) {
	unauthenticated := transfer.Refuse(transfer.CodeUnauthenticated, "The credentials are not valid.")
	if c.publisherToken != "" {
		cred, ok := auth.ParsePublisherToken(c.publisherToken)
		if !ok {
			return transfer.Credential{}, unauthenticated
		}
		return cred, nil
	}
	cred, err := v.Verify(ctx, c.bearer)
	if errors.Is(err, auth.ErrKeysUnavailable) {
		// Not the token's fault: no key to check it with (yet).
		return transfer.Credential{}, transfer.Internal(transfer.CodeSecretFailure, err)
	}
	if err != nil {
		unauthenticated.Cause = err
		return transfer.Credential{}, unauthenticated
	}
	return cred, nil
}

// readCorrelationID returns the Correlation-Id, "" when absent. Behind API
// Gateway it is read from the raw event, because the proxy adapter splits
// header values on commas and a Correlation-Id may contain commas.
func readCorrelationID(r *http.Request) (string, *transfer.Error) {
	values, ok := rawHeaderValues(r.Context(), headerCorrelationID)
	if !ok {
		values = r.Header.Values(headerCorrelationID)
	}
	switch {
	case len(values) == 0:
		return "", nil
	case len(values) == 1 && transfer.ValidSynchronizationID(values[0]):
		return values[0], nil
	}
	return "", transfer.Refuse(transfer.CodeInvalidHeaders, "The Correlation-Id header "+transfer.SynchronizationIDRule+".",
		transfer.FieldError{Field: headerCorrelationID, Message: transfer.SynchronizationIDRule})
}

// checkContentType tolerates a missing Content-Type and refuses anything but JSON.
func checkContentType(r *http.Request) *transfer.Error {
	values := r.Header.Values(headerContentType)
	if len(values) == 0 {
		return nil
	}
	if len(values) == 1 {
		if media, _, err := mime.ParseMediaType(values[0]); err == nil && media == "application/json" {
			return nil
		}
	}
	return transfer.Refuse(transfer.CodeInvalidHeaders, "The Content-Type must be application/json.",
		transfer.FieldError{Field: headerContentType, Message: "must be application/json"})
}
