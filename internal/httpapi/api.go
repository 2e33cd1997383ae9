// Package httpapi serves docs/contract.md §1–2 over plain net/http: routes, header and
// body validation, authentication, and the mapping of domain refusals to
// HTTP. The same http.Handler runs in Lambda (through the API Gateway proxy
// adapter) and in the local runner.
package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/deadline"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// Acceptor is the transfer use case.
type Acceptor interface {
	Accept(ctx context.Context, in transfer.Intake) (transfer.Accepted, error)
}

// StatusReader is the status use case.
type StatusReader interface {
	Get(ctx context.Context, c transfer.Credential, id string) (transfer.Synchronization, error)
}

// Route patterns, relative to the base path.
const (
	pathTransfers        = "/purchases/transfers"
	pathSynchronizations = "/purchases/synchronizations/"
)

// Option configures the handlers.
type Option func(*options)

type options struct {
	basePath string
	observer Observer
}

// WithBasePath is the path prefix the API is published under (e.g.
// "/storekit2"), used in the Location header. Routing itself is relative:
// the prefix is stripped before the request reaches these handlers.
func WithBasePath(p string) Option {
	return func(o *options) { o.basePath = strings.TrimSuffix(p, "/") }
}

// NewTransferHandler serves POST /purchases/transfers.
func NewTransferHandler(a Acceptor, v JWTVerifier, opts ...Option) http.Handler {
	o := buildOptions(opts)
	h := route{method: http.MethodPost, path: pathTransfers, next: transferHandler{accept: a, verify: v, basePath: o.basePath}}
	return withRequestContext(EndpointTransfer, o, h)
}

// NewStatusHandler serves GET /purchases/synchronizations/{id}, the id
// being the rest of the path as sent (slashes included); a path that is no
// valid id is answered REQ0003, never redirected. Of its options only
// WithObserver matters.
func NewStatusHandler(s StatusReader, v JWTVerifier, opts ...Option) http.Handler {
	h := route{method: http.MethodGet, path: pathSynchronizations, param: "id", rest: true, bare: true, next: statusHandler{status: s, verify: v}}
	return withRequestContext(EndpointStatus, buildOptions(opts), h)
}

// NewHandler serves both endpoints, as the local runner does.
func NewHandler(a Acceptor, s StatusReader, v JWTVerifier, opts ...Option) http.Handler {
	var rs Routes
	rs.Handle(pathTransfers, NewTransferHandler(a, v, opts...))
	rs.Handle(pathSynchronizations, NewStatusHandler(s, v, opts...))
	return &rs
}

func buildOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

type transferHandler struct {
	accept   Acceptor
	verify   JWTVerifier
	basePath string
}

type acceptedBody struct {
	SynchronizationID string `json:"synchronizationId"`
}

func (h transferHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	presented, herr := readCredential(r)
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	correlationID, herr := readCorrelationID(r)
	if herr == nil {
		herr = checkContentType(r)
	}
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	cred, herr := authenticate(r.Context(), h.verify, presented)
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	req, bodyErr := readTransferBody(r)
	accepted, err := h.accept.Accept(r.Context(), transfer.Intake{
		Credential:    cred,
		Request:       req,
		BodyError:     bodyErr,
		CorrelationID: correlationID,
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	id := accepted.Synchronization.ID
	if a := noted(r.Context()); a != nil {
		a.SynchronizationID, a.Replayed = id, accepted.Replayed
	}
	w.Header().Set("Location", h.basePath+pathSynchronizations+url.PathEscape(id))
	writeJSON(w, http.StatusAccepted, acceptedBody{SynchronizationID: id})
}

type statusHandler struct {
	status StatusReader
	verify JWTVerifier
}

// statusBody is docs/contract.md §2's answer; the last three fields are extensions.
type statusBody struct {
	Status            transfer.Status `json:"status"`
	CorrelationID     string          `json:"correlationId,omitempty"`
	AccessGranted     *bool           `json:"accessGranted,omitempty"`
	OfferID           string          `json:"offerId,omitempty"`
	Result            transfer.Result `json:"result,omitempty"`
	SynchronizationID string          `json:"synchronizationId"`
	CreatedAt         time.Time       `json:"createdAt"`
	UpdatedAt         time.Time       `json:"updatedAt"`
}

func (h statusHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !transfer.ValidSynchronizationID(id) {
		writeError(w, r, transfer.Refuse(transfer.CodeInvalidPathParam, "The synchronizationId "+transfer.SynchronizationIDRule+".",
			transfer.FieldError{Field: "synchronizationId", Message: transfer.SynchronizationIDRule}))
		return
	}
	cred, herr := credentialOf(r, h.verify)
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	sync, err := h.status.Get(r.Context(), cred, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if a := noted(r.Context()); a != nil {
		a.SynchronizationID, a.SyncStatus = sync.ID, sync.Status
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, newStatusBody(sync))
}

func newStatusBody(s transfer.Synchronization) statusBody {
	body := statusBody{
		Status:            s.Status,
		CorrelationID:     s.CorrelationID,
		SynchronizationID: s.ID,
		CreatedAt:         s.CreatedAt,
		UpdatedAt:         s.UpdatedAt,
	}
	if s.Status == transfer.StatusFinalized {
		granted := s.AccessGranted()
		body.AccessGranted = &granted
		body.Result = s.Result
		if granted {
			body.OfferID = s.OfferID
		}
	}
	return body
}

// FunctionTimeout is the Timeout template.yaml gives the HTTP functions. A
// request that comes without a deadline (a test calling a handler directly)
// is given the one an invocation would have; in Lambda, and in the local
// runner, the invocation's own deadline applies.
const FunctionTimeout = 10 * time.Second

// withRequestContext gives every request a request id (the Lambda one when
// running in Lambda) and a deadline for its work (deadline.ForWork: the
// invocation's, less the margin to answer), turns a panic into a 500 with
// the documented body, and tells the observer, if any, how the request was
// answered.
func withRequestContext(endpoint string, o options, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := deadline.ForWork(r.Context(), FunctionTimeout)
		defer cancel()
		if _, ok := lambdacontext.FromContext(ctx); !ok {
			ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: rand.Text()})
		}
		ctx, w, observed := observing(ctx, w, endpoint, o.observer)
		r = r.WithContext(ctx)
		defer observed()
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeError(w, r, transfer.Internal(transfer.CodeInternal, panicError{v}))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type panicError struct{ v any }

func (p panicError) Error() string { return fmt.Sprintf("panic: %v", p.v) }
