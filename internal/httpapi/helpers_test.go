package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/transfer"
)

const (
	testPublisher = transfer.PublisherID(7)
	testCustomer  = transfer.CustomerID(42)
	goodJWT       = "header.payload.signature"
	validBody     = `{"cleengCustomerId":42,"transactionId":"tx-1","ipAddress":"192.0.2.1"}`
)

// pubToken is a well-formed publisher token of testPublisher.
var pubToken, _ = auth.NewPublisherToken(testPublisher)

// fakeAcceptor behaves like transfer.Acceptor at its edge: it reports the
// intake's body error (as it would once authentication passed), and
// otherwise accepts under the Correlation-Id or a fixed generated id.
type fakeAcceptor struct {
	mu      sync.Mutex
	intakes []transfer.Intake
	answer  func(transfer.Intake) (transfer.Accepted, error)
}

func (a *fakeAcceptor) Accept(_ context.Context, in transfer.Intake) (transfer.Accepted, error) {
	a.mu.Lock()
	a.intakes = append(a.intakes, in)
	answer := a.answer
	a.mu.Unlock()
	if answer != nil {
		return answer(in)
	}
	if in.BodyError != nil {
		return transfer.Accepted{}, in.BodyError
	}
	id := in.CorrelationID
	if id == "" {
		id = "GENERATEDID234567ABCDEFGHIJ"
	}
	return transfer.Accepted{Synchronization: transfer.Synchronization{ID: id, CorrelationID: in.CorrelationID}}, nil
}

func (a *fakeAcceptor) calls() []transfer.Intake {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]transfer.Intake(nil), a.intakes...)
}

// fakeVerifier accepts goodJWT as the testCustomer of testPublisher.
type fakeVerifier struct {
	mu     sync.Mutex
	tokens []string
}

func (v *fakeVerifier) Verify(_ context.Context, token string) (transfer.Credential, error) {
	v.mu.Lock()
	v.tokens = append(v.tokens, token)
	v.mu.Unlock()
	if token == goodJWT {
		return transfer.Credential{Publisher: testPublisher, Customer: testCustomer}, nil
	}
	return transfer.Credential{}, errors.New("signature is invalid")
}

type statusCall struct {
	cred transfer.Credential
	id   string
}

type fakeStatusReader struct {
	mu    sync.Mutex
	calls []statusCall
	sync  transfer.Synchronization
	err   error
	panic any
}

func (r *fakeStatusReader) Get(_ context.Context, c transfer.Credential, id string) (transfer.Synchronization, error) {
	r.mu.Lock()
	r.calls = append(r.calls, statusCall{cred: c, id: id})
	r.mu.Unlock()
	if r.panic != nil {
		panic(r.panic)
	}
	if r.err != nil {
		return transfer.Synchronization{}, r.err
	}
	s := r.sync
	if s.ID == "" {
		s.ID = id
	}
	return s, nil
}

func (r *fakeStatusReader) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// headers builds a header set; each pair adds one header line.
func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[http.CanonicalHeaderKey(kv[i])] = append(h[http.CanonicalHeaderKey(kv[i])], kv[i+1])
	}
	return h
}

func serve(h http.Handler, method, target, body string, hdr http.Header) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorResponse checks the documented error body shape and returns it.
type errorResponse struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
	Details   []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"details"`
	keys []string
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder, wantStatus int, wantCode transfer.Code) errorResponse {
	t.Helper()
	if rec.Code != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", rec.Code, wantStatus, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatalf("error body is not a JSON object: %v: %s", err, rec.Body)
	}
	var e errorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body: %v", err)
	}
	for k := range raw {
		e.keys = append(e.keys, k)
	}
	sort.Strings(e.keys)
	if e.Code != string(wantCode) {
		t.Errorf("code = %q, want %q (body %s)", e.Code, wantCode, rec.Body)
	}
	if e.Message == "" {
		t.Error("message is empty")
	}
	if e.RequestID == "" {
		t.Error("requestId is empty")
	}
	for _, k := range e.keys {
		switch k {
		case "code", "message", "requestId":
		case "details":
			if len(e.Details) == 0 {
				t.Errorf("details present but empty: %s", rec.Body)
			}
		default:
			t.Errorf("unexpected key %q in error body %s", k, rec.Body)
		}
	}
	return e
}

func (e errorResponse) fields() []string {
	var out []string
	for _, d := range e.Details {
		out = append(out, d.Field)
	}
	sort.Strings(out)
	return out
}

func (e errorResponse) hasDetails() bool {
	for _, k := range e.keys {
		if k == "details" {
			return true
		}
	}
	return false
}
