package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// endpoint ties an operation of the document to its code.
type endpoint struct {
	name string
	op   string // JSON pointer of the operation in openapi.yaml
	root string // the constructor of its handler, where the code walk starts
	// build makes a world and a request that fail exactly the checks whose
	// codes are in faults (ok is false for a code it does not know).
	build func(t *testing.T, faults []string) (w *world, r request, ok bool)
}

var endpoints = []endpoint{
	{"POST /purchases/transfers", transferOp, "httpapi.NewTransferHandler", buildTransfer},
	{"GET /purchases/synchronizations/{synchronizationId}", statusOp, "httpapi.NewStatusHandler", buildStatus},
	{"POST /apple/notifications/{publisherId}", appleOp, "httpapi.NewAppleNotificationHandler", buildApple},
}

func buildTransfer(t *testing.T, faults []string) (*world, request, bool) {
	w := newWorld()
	target := customer
	r := request{method: http.MethodPost, target: "/purchases/transfers"}
	h := hdr("Content-Type", "application/json")
	has := func(code transfer.Code) bool { return slices.Contains(faults, string(code)) }
	known := []transfer.Code{
		transfer.CodeInvalidHeaders, transfer.CodeUnauthenticated, transfer.CodeInvalidBody, transfer.CodeForbidden,
		transfer.CodeSignedTxRequired, transfer.CodeIntegrationInactive, transfer.CodeMigrationInProgress, transfer.CodeUnknownCustomer,
		transfer.CodeTransactionLocked, transfer.CodePurchaseLocked, transfer.CodeCorrelationIDReused, transfer.CodeTooManyUnfinished,
		transfer.CodeInternal, transfer.CodeStorageFailure, transfer.CodeQueueFailure, transfer.CodeSecretFailure,
	}
	for _, f := range faults {
		if !slices.Contains(known, transfer.Code(f)) {
			return nil, request{}, false
		}
	}
	if has(transfer.CodeInvalidHeaders) {
		h.Set("Content-Type", "text/plain")
	}
	if has(transfer.CodeForbidden) || has(transfer.CodeSignedTxRequired) || has(transfer.CodeSecretFailure) {
		// A customer JWT: transferring to another customer (AUTH0003), or
		// without the signed transaction its publisher requires (AUTH0004).
		tok := customerJWT(t, customer)
		if has(transfer.CodeUnauthenticated) {
			tok += "x" // signature no longer matches
		}
		h.Set("Authorization", "Bearer "+tok)
		if has(transfer.CodeForbidden) {
			target = other
		}
		w.publisher.RequireSignedTransaction = has(transfer.CodeSignedTxRequired)
	} else {
		h.Set("X-Publisher-Token", publisherTk)
		w.tokenInvalid = has(transfer.CodeUnauthenticated)
	}
	if has(transfer.CodeInvalidBody) {
		r.body = fmt.Sprintf(`{"cleengCustomerId":%d}`, target)
	} else {
		r.body = fmt.Sprintf(`{"cleengCustomerId":%d,"transactionId":"2000000123456789"}`, target)
	}
	w.publisher.StoreKit2Active = !has(transfer.CodeIntegrationInactive)
	w.publisher.MigrationInProgress = has(transfer.CodeMigrationInProgress)
	c := &transfer.OpenConflict{
		CustomerMissing:   has(transfer.CodeUnknownCustomer),
		TransactionLocked: has(transfer.CodeTransactionLocked),
		PurchaseLocked:    has(transfer.CodePurchaseLocked),
		CustomerAtLimit:   has(transfer.CodeTooManyUnfinished),
	}
	if has(transfer.CodeCorrelationIDReused) {
		h.Set("Correlation-Id", "order-4711")
		c.Existing = &transfer.Synchronization{PublisherID: publisher, ID: "order-4711", CorrelationID: "order-4711", RequestHash: "another body"}
	}
	if *c != (transfer.OpenConflict{}) {
		w.conflict = c
	}
	w.openPanic = has(transfer.CodeInternal)
	w.keysDown = has(transfer.CodeSecretFailure)
	if has(transfer.CodeStorageFailure) {
		w.lookupErr = errBoom
	}
	if has(transfer.CodeQueueFailure) {
		w.queueErr = errBoom
	}
	r.header = h
	return w, r, true
}

// buildApple makes a notification that fails the checks of docs/contract.md §6
// named in faults: each fault is made independently of the others, so that a
// request failing several shows which check comes first.
func buildApple(t *testing.T, faults []string) (*world, request, bool) {
	w := newWorld()
	signer := appleRoot
	bundle := appBundleID
	path := fmt.Sprintf("/apple/notifications/%d", publisher)
	var body string
	for _, f := range faults {
		switch transfer.Code(f) {
		case transfer.CodeAppleInvalidBody:
			body = `{"signedPayload": 42}`
		case transfer.CodeAppleUnverified:
			signer = untrustedRoot(t) // Apple-shaped, but not under the trusted root
		case transfer.CodeAppleUnknownPublisher:
			path = fmt.Sprintf("/apple/notifications/%d", publisher+1)
		case transfer.CodeAppleWrongApp:
			bundle = "com.example.another-app"
		case transfer.CodeInternal:
			w.recordPanic = true
		case transfer.CodeStorageFailure:
			w.recordErrs = []error{errBoom}
		default:
			return nil, request{}, false
		}
	}
	if body == "" {
		body = notificationBody(t, signer, didRenew(bundle))
	}
	return w, request{method: http.MethodPost, target: path, body: body, header: hdr("Content-Type", "application/json")}, true
}

func buildStatus(t *testing.T, faults []string) (*world, request, bool) {
	w := newWorld()
	w.stored = &transfer.Synchronization{PublisherID: publisher, ID: "sync-1", Status: transfer.StatusProcessing}
	r := request{method: http.MethodGet, target: "/purchases/synchronizations/sync-1", header: hdr("X-Publisher-Token", publisherTk)}
	for _, f := range faults {
		switch transfer.Code(f) {
		case transfer.CodeInvalidPathParam:
			r.target = "/purchases/synchronizations/a%20b"
		case transfer.CodeInvalidHeaders:
			r.header = hdr("Authorization", "Basic b3BlbjpzZXNhbWU=")
		case transfer.CodeUnauthenticated:
			w.tokenInvalid = true
		case transfer.CodeNotFound:
			w.stored = nil
		case transfer.CodeInternal:
			w.getPanic = true
		case transfer.CodeStorageFailure:
			w.getErr = errBoom
		case transfer.CodeSecretFailure:
			// Only a customer JWT needs the key.
			r.header = hdr("Authorization", "Bearer "+customerJWT(t, customer))
			w.keysDown = true
		default:
			return nil, request{}, false
		}
	}
	return w, r, true
}

// documentedCodes returns the error codes an operation documents, each with
// the HTTP status of the response that lists it. A response lists its codes
// in the schema of its "code" property: const, enum and examples values.
func (s *spec) documentedCodes(t *testing.T, op string) map[string]int {
	t.Helper()
	out := map[string]int{}
	responses, _ := s.at(op + "/responses").(map[string]any)
	for status, resp := range responses {
		n, err := strconv.Atoi(status)
		if err != nil || n < 400 {
			continue
		}
		sch := dig(s.resolve(resp), "content", "application/json", "schema")
		var codes []string
		s.walkCodeSchemas(sch, func(code any) { codes = append(codes, s.literals(code)...) })
		if len(codes) == 0 {
			t.Errorf("%s: response %s lists no error code", op, status)
		}
		for _, c := range codes {
			if prev, dup := out[c]; dup {
				t.Errorf("%s: code %s is listed under both %d and %d", op, c, prev, n)
			}
			out[c] = n
		}
	}
	return out
}

// walkCodeSchemas calls fn with every schema given to a "code" property in
// a schema and its allOf/anyOf/oneOf members.
func (s *spec) walkCodeSchemas(sch any, fn func(any)) {
	m, ok := s.resolve(sch).(map[string]any)
	if !ok {
		return
	}
	if code := dig(m, "properties", "code"); code != nil {
		fn(code)
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		list, _ := m[k].([]any)
		for _, sub := range list {
			s.walkCodeSchemas(sub, fn)
		}
	}
}

// literals collects const, enum and examples values of a string schema.
func (s *spec) literals(sch any) []string {
	var out []string
	add := func(m map[string]any) {
		if c, ok := m["const"].(string); ok {
			out = append(out, c)
		}
		for _, k := range []string{"enum", "examples"} {
			list, _ := m[k].([]any)
			for _, v := range list {
				out = append(out, fmt.Sprint(v))
			}
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			list, _ := m[k].([]any)
			for _, sub := range list {
				out = append(out, s.literals(sub)...)
			}
		}
	}
	if m, ok := sch.(map[string]any); ok {
		add(m)
		if _, isRef := m["$ref"]; isRef {
			if r, ok := s.resolve(m).(map[string]any); ok {
				add(r)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestErrorCodesMatchTheCode compares, for each endpoint, the error codes the
// code can return (found by walking the source of internal/httpapi and
// internal/transfer from the handler's constructor) with the codes
// openapi.yaml lists, and each code's HTTP status with httpapi.StatusOf.
func TestErrorCodesMatchTheCode(t *testing.T) {
	s := mustSpec(t)
	src := mustSource(t)
	all := src.values("Code")
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			reachable, err := src.reachableCodes(ep.root)
			if err != nil {
				t.Fatal(err)
			}
			documented := s.documentedCodes(t, ep.op)
			for _, code := range sortedKeys(reachable) {
				want := httpapi.StatusOf(transfer.Code(code))
				got, ok := documented[code]
				switch {
				case !ok:
					t.Errorf("the code can answer %s with %d %s (via %s), but openapi.yaml (%s) does not list it: add it to the %d response",
						ep.name, want, code, strings.Join(reachable[code], " → "), ep.op, want)
				case got != want:
					t.Errorf("openapi.yaml lists %s under %d for %s, but the code answers it with %d (httpStatusOf in internal/httpapi/errors.go)",
						code, got, ep.name, want)
				}
			}
			for _, code := range sortedKeys(documented) {
				if _, ok := reachable[code]; !ok {
					declared := slices.Contains(all, code)
					t.Errorf("openapi.yaml lists %s under %d for %s, but the code cannot return it there (declared in internal/transfer: %v): remove it, or fix the code",
						code, documented[code], ep.name, declared)
				}
			}
		})
	}
}

// TestErrorResponsesAreTheOnesServed makes every documented error happen
// through the real handlers and use cases (over in-memory ports) and checks
// the answer against the document: HTTP status, code, body schema, headers.
func TestErrorResponsesAreTheOnesServed(t *testing.T) {
	s := mustSpec(t)
	for _, ep := range endpoints {
		documented := s.documentedCodes(t, ep.op)
		for _, code := range sortedKeys(documented) {
			t.Run(ep.name+"/"+code, func(t *testing.T) {
				w, r, ok := ep.build(t, []string{code})
				if !ok {
					t.Fatalf("no scenario makes %s answer %s: teach its build function (endpoints) how", ep.name, code)
				}
				s.checkError(t, ep, w, r, code, documented[code])
			})
		}
	}
}

// TestErrorOrder checks the documented order of the checks three ways: the
// x-error-order list equals the order of the description's table, it covers
// every documented code but the internal ones, and the code agrees: a request
// failing checks i, i+1, … answers with check i.
func TestErrorOrder(t *testing.T) {
	s := mustSpec(t)
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			raw, _ := s.at(ep.op + "/x-error-order").([]any)
			var order []string
			for _, v := range raw {
				order = append(order, fmt.Sprint(v))
			}
			if len(order) == 0 {
				t.Fatalf("%s has no x-error-order", ep.op)
			}
			desc, _ := s.at(ep.op + "/description").(string)
			var table []string
			for i, m := range tableRow.FindAllStringSubmatch(desc, -1) {
				if m[1] != strconv.Itoa(i+1) {
					t.Errorf("row %d of the order table is numbered %s", i+1, m[1])
				}
				if st, _ := strconv.Atoi(m[2]); st != httpapi.StatusOf(transfer.Code(m[3])) {
					t.Errorf("the order table says %s is %s, the code answers %d", m[3], m[2], httpapi.StatusOf(transfer.Code(m[3])))
				}
				table = append(table, m[3])
			}
			if !reflect.DeepEqual(table, order) {
				t.Errorf("the description's table orders the checks %v, x-error-order says %v", table, order)
			}
			documented := s.documentedCodes(t, ep.op)
			var notInternal []string
			for _, code := range sortedKeys(documented) {
				if !internalCode(code) {
					notInternal = append(notInternal, code)
				}
			}
			if sorted := slices.Sorted(slices.Values(order)); !reflect.DeepEqual(sorted, notInternal) {
				t.Errorf("x-error-order has %v, the responses document %v (internal S#### codes aside)", sorted, notInternal)
			}
			for i := range order {
				faults := order[i:]
				t.Run(strings.Join(faults, "+"), func(t *testing.T) {
					w, r, ok := ep.build(t, faults)
					if !ok {
						t.Fatalf("no scenario fails the checks %v", faults)
					}
					s.checkError(t, ep, w, r, order[i], documented[order[i]])
				})
			}
		})
	}
}

func internalCode(code string) bool {
	return len(code) == 5 && code[0] == 'S' && strings.Trim(code[1:], "0123456789") == ""
}

// checkError serves r in w and checks the answer is the documented error.
func (s *spec) checkError(t *testing.T, ep endpoint, w *world, r request, code string, status int) {
	t.Helper()
	rec := r.serve(w.handler())
	body := rec.Body.Bytes()
	var got struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &got)
	if rec.Code != status || got.Code != code {
		t.Fatalf("%s: got %d %s, openapi.yaml documents %s as %d (body %s)", ep.name, rec.Code, got.Code, code, status, body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	ptr := s.responseSchemaPtr(ep.op, strconv.Itoa(status))
	if err := s.validate(t, true, ptr, body); err != nil {
		t.Errorf("%s: the %d body does not match the schema at %s: %v\nbody: %s", ep.name, status, ptr, err, body)
	}
	s.checkResponseHeaders(t, ep.op, strconv.Itoa(status), rec.Header())
	if strings.Contains(string(body), "boom") || strings.Contains(string(body), "exploded") {
		t.Errorf("an internal error text reached the client: %s", body)
	}
}

// checkResponseHeaders checks the required headers of a response are sent
// and match their schemas.
func (s *spec) checkResponseHeaders(t *testing.T, op, status string, got http.Header) {
	t.Helper()
	ptr := s.responsePtr(op, status)
	headers, _ := dig(s.at(ptr), "headers").(map[string]any)
	for name, h := range headers {
		hp := ptr + pointer("headers", name)
		if ref, ok := dig(h, "$ref").(string); ok {
			hp = strings.TrimPrefix(ref, "#")
		}
		values := got.Values(name)
		if required, _ := dig(s.at(hp), "required").(bool); required && len(values) != 1 {
			t.Errorf("response %s of %s: header %s sent %d times, documented as required", status, op, name, len(values))
			continue
		}
		for _, v := range values {
			b, _ := json.Marshal(v)
			if err := s.validate(t, false, hp+"/schema", b); err != nil {
				t.Errorf("response %s of %s: header %s: %q does not match its schema: %v", status, op, name, v, err)
			}
		}
	}
}
