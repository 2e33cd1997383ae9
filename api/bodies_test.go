package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

var (
	transferBodyPtr = pointer("components", "requestBodies", "TransferRequest", "content", "application/json")
	syncIDSchemaPtr = pointer("components", "schemas", "SynchronizationId")
)

// schemaAcceptsTransferBody is the document's verdict on a request body: at
// most x-max-body-bytes, one JSON value, valid against the schema.
func (s *spec) schemaAcceptsTransferBody(t *testing.T, body string) (bool, string) {
	t.Helper()
	limit, ok := s.at(transferBodyPtr + "/x-max-body-bytes").(int)
	if !ok {
		t.Fatalf("%s has no integer x-max-body-bytes", transferBodyPtr)
	}
	if len(body) > limit {
		return false, fmt.Sprintf("over x-max-body-bytes (%d)", limit)
	}
	if !json.Valid([]byte(body)) {
		return false, "not one JSON value"
	}
	if err := s.validate(t, false, transferBodyPtr+"/schema", []byte(body)); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// codeAcceptsTransferBody is the service's verdict: 202, or 400 REQ0001.
func codeAcceptsTransferBody(t *testing.T, body string) (bool, string) {
	t.Helper()
	w := newWorld()
	rec := request{method: http.MethodPost, target: "/purchases/transfers", body: body,
		header: hdr("Content-Type", "application/json", "X-Publisher-Token", publisherTk)}.serve(w.handler())
	var e struct {
		Code    string `json:"code"`
		Details any    `json:"details"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	switch {
	case rec.Code == http.StatusAccepted:
		return true, ""
	case rec.Code == http.StatusBadRequest && e.Code == string(transfer.CodeInvalidBody):
		d, _ := json.Marshal(e.Details)
		return false, string(d)
	}
	t.Fatalf("a body check answered %d %s: %s", rec.Code, e.Code, rec.Body)
	return false, ""
}

// TestTransferRequestBodies runs one table of bodies through the document's
// request body schema and through the real handler: both must accept or
// refuse each. Where JSON Schema cannot say what the code does, the case
// names it (codeStricter) and the document's description must say it.
func TestTransferRequestBodies(t *testing.T) {
	s := mustSpec(t)
	if limit := s.at(transferBodyPtr + "/x-max-body-bytes"); limit != httpapi.MaxBodyBytes {
		t.Errorf("x-max-body-bytes = %v, the code's limit is httpapi.MaxBodyBytes = %d", limit, httpapi.MaxBodyBytes)
	}
	pad := func(n int) string {
		head := `{"cleengCustomerId":42,"transactionId":"tx-1","pad":"`
		return head + strings.Repeat("x", n-len(head)-2) + `"}`
	}
	cust := func(v string) string { return `{"cleengCustomerId":` + v + `,"transactionId":"tx-1"}` }
	tx := func(v string) string { return `{"cleengCustomerId":42,"transactionId":` + v + `}` }
	ip := func(v string) string { return `{"cleengCustomerId":42,"transactionId":"tx-1","ipAddress":` + v + `}` }
	q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
	stx := func(v string) string {
		return `{"cleengCustomerId":42,"transactionId":"tx-1","signedTransactionInfo":` + v + `}`
	}

	tests := []struct {
		name   string
		body   string
		accept bool
		// codeStricter names what the code refuses that JSON Schema accepts;
		// the schema's description must mention it.
		codeStricter string
	}{
		{"minimal", cust("42"), true, ""},
		{"with an IPv4", ip(q("203.0.113.7")), true, ""},
		{"ipAddress null is absent (ext)", ip("null"), true, ""},
		{"unknown fields are ignored", `{"cleengCustomerId":42,"transactionId":"tx-1","extra":{"a":[1,2]},"offerId":"x"}`, true, ""},
		{"leading and trailing whitespace", " \n\t" + cust("42") + "\r\n ", true, ""},
		{"largest customer id", cust("9223372036854775807"), true, ""},
		{"customer id 1", cust("1"), true, ""},
		{"transactionId of 128 characters", tx(q(strings.Repeat("a", 128))), true, ""},
		{"transactionId of every allowed character", tx(q("AZaz09._-")), true, ""},
		{"IPv4 0.0.0.0", ip(q("0.0.0.0")), true, ""},
		{"IPv4 255.255.255.255", ip(q("255.255.255.255")), true, ""},
		{"a duplicate key: the last one counts", `{"cleengCustomerId":"x","cleengCustomerId":42,"transactionId":"tx-1"}`, true, ""},
		{"exactly 16 KiB", pad(httpapi.MaxBodyBytes), true, ""},
		{"signedTransactionInfo (ext)", stx(q("eyJhbGciOiJFUzI1NiJ9.e30.c2ln")), true, ""},
		{"signedTransactionInfo null is absent (ext)", stx("null"), true, ""},
		{"signedTransactionInfo empty is absent (ext)", stx(`""`), true, ""},
		{"signedTransactionInfo not verified with the body (ext)", stx(q("not a JWS")), true, ""},

		{"one byte over 16 KiB", pad(httpapi.MaxBodyBytes + 1), false, ""},
		{"empty", "", false, ""},
		{"whitespace", " \n", false, ""},
		{"not JSON", "cleengCustomerId=42&transactionId=tx-1", false, ""},
		{"broken JSON", `{"cleengCustomerId":42,`, false, ""},
		{"an array", "[" + cust("42") + "]", false, ""},
		{"null", "null", false, ""},
		{"a string", `"x"`, false, ""},
		{"a number", "42", false, ""},
		{"trailing garbage", cust("42") + " x", false, ""},
		{"two objects", cust("42") + cust("42"), false, ""},
		{"empty object", "{}", false, ""},
		{"keys are case-sensitive", `{"CleengCustomerId":42,"TransactionId":"tx-1"}`, false, ""},
		{"customer missing", `{"transactionId":"tx-1"}`, false, ""},
		{"customer null", cust("null"), false, ""},
		{"customer as a string", cust(`"42"`), false, ""},
		{"customer with a fraction", cust("42.5"), false, ""},
		{"customer 0", cust("0"), false, ""},
		{"customer -0", cust("-0"), false, ""},
		{"customer -1", cust("-1"), false, ""},
		{"customer 2^63", cust("9223372036854775808"), false, ""},
		{"customer true", cust("true"), false, ""},
		{"customer an object", cust(`{"id":42}`), false, ""},
		{"customer 42.0 is the integer 42", cust("42.0"), true, ""},
		{"customer 1e3 is the integer 1000", cust("1e3"), true, ""},
		{"customer 4.2E1 is the integer 42", cust("4.2E1"), true, ""},
		{"customer 1e19, over 2^63", cust("1e19"), false, ""},
		{"customer 4.25e1", cust("4.25e1"), false, ""},
		{"transactionId missing", `{"cleengCustomerId":42}`, false, ""},
		{"transactionId null", tx("null"), false, ""},
		{"transactionId empty", tx(`""`), false, ""},
		{"transactionId of 129 characters", tx(q(strings.Repeat("a", 129))), false, ""},
		{"transactionId with a slash", tx(q("tx/1")), false, ""},
		{"transactionId with a space", tx(q("tx 1")), false, ""},
		{"transactionId not ASCII", tx(q("tx-é")), false, ""},
		{"transactionId with a newline", tx(q("tx\n")), false, ""},
		{"transactionId a number", tx("123"), false, ""},
		{"ipAddress empty", ip(`""`), false, ""},
		{"ipAddress of three parts", ip(q("1.2.3")), false, ""},
		{"ipAddress of five parts", ip(q("1.2.3.4.5")), false, ""},
		{"ipAddress 256", ip(q("256.1.1.1")), false, ""},
		{"ipAddress with a leading zero", ip(q("01.2.3.4")), false, ""},
		{"ipAddress IPv6", ip(q("2001:db8::1")), false, ""},
		{"ipAddress IPv4-mapped IPv6", ip(q("::ffff:1.2.3.4")), false, ""},
		{"ipAddress with a zone", ip(q("1.2.3.4%eth0")), false, ""},
		{"ipAddress with a space", ip(q("1.2.3.4 ")), false, ""},
		{"ipAddress a number", ip("16909060"), false, ""},
		{"signedTransactionInfo a number", stx("42"), false, ""},
		{"signedTransactionInfo an object", stx(`{"jws":"a.b.c"}`), false, ""},
		{"signedTransactionInfo an array", stx(`["a.b.c"]`), false, ""},
		{"every field wrong", `{"cleengCustomerId":0,"transactionId":"","ipAddress":"x","signedTransactionInfo":false}`, false, ""},
	}
	custDesc, _ := s.at(pointer("components", "schemas", "TransferRequest", "properties", "cleengCustomerId", "description")).(string)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			schemaOK, schemaWhy := s.schemaAcceptsTransferBody(t, tc.body)
			codeOK, codeWhy := codeAcceptsTransferBody(t, tc.body)
			if codeOK != tc.accept {
				t.Errorf("the code accepts it: %v, the table says %v (%s)", codeOK, tc.accept, codeWhy)
			}
			if tc.codeStricter != "" {
				if !schemaOK || codeOK {
					t.Errorf("expected the schema to accept and the code to refuse (%s); schema: %v %s; code: %v", tc.codeStricter, schemaOK, schemaWhy, codeOK)
				}
				if !strings.Contains(custDesc, tc.codeStricter) {
					t.Errorf("the cleengCustomerId description does not say that %s is refused", tc.codeStricter)
				}
				return
			}
			if schemaOK != codeOK {
				t.Errorf("openapi.yaml and the code disagree on %s\nschema accepts: %v %s\ncode accepts: %v %s",
					abbreviate(tc.body), schemaOK, schemaWhy, codeOK, codeWhy)
			}
		})
	}
}

func abbreviate(s string) string {
	if len(s) > 120 {
		return fmt.Sprintf("%s… (%d bytes)", s[:120], len(s))
	}
	return s
}

// syncIDValues are Correlation-Ids and path parameters for both rules.
var syncIDValues = []string{
	"a", "order-4711", strings.Repeat("c", 256), "a,b;c/d?e%f", "~!\"#$&'()*+", "a/b", "a/", "/a", "...", ".a", "%2e", "S4BHDJ6KT5FFYT6WJJNPNUBQM4",
	"", strings.Repeat("c", 257), " ", "a b", "a\tb", "\x7f", "a\x00", "café", ".", "..",
	// '/'-separated segments: none empty, none "." or "..".
	"a/b/c", "a/.../b", "a/.b/c.", "-/-", "a/../b", "a/./b", "a//b", "/", "./x", "../x", "x/.", "x/..",
	strings.Repeat("a/", 127) + "a", strings.Repeat("a/", 128),
}

// TestCorrelationIdRule: the document's Correlation-Id schema and the
// transfer handler accept the same values.
func TestCorrelationIdRule(t *testing.T) {
	s := mustSpec(t)
	paramPtr := pointer("components", "parameters", "CorrelationId")
	if name := s.at(paramPtr + "/name"); name != "Correlation-Id" {
		t.Fatalf("%s names %v", paramPtr, name)
	}
	for _, v := range syncIDValues {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			b, _ := json.Marshal(v)
			schemaErr := s.validate(t, false, paramPtr+"/schema", b)
			w := newWorld()
			rec := request{method: http.MethodPost, target: "/purchases/transfers", body: `{"cleengCustomerId":42,"transactionId":"tx-1"}`,
				header: hdr("X-Publisher-Token", publisherTk, "Correlation-Id", v)}.serve(w.handler())
			codeOK := rec.Code == http.StatusAccepted
			if !codeOK && !(rec.Code == http.StatusBadRequest && strings.Contains(rec.Body.String(), `"REQ0004"`)) {
				t.Fatalf("answered %d %s", rec.Code, rec.Body)
			}
			if (schemaErr == nil) != codeOK {
				t.Errorf("openapi.yaml accepts the Correlation-Id %q: %v (%v); the code: %v", v, schemaErr == nil, schemaErr, codeOK)
			}
		})
	}
}

// TestPathParameterRule: the document's synchronizationId schema and the
// status handler accept the same values, sent percent-encoded as one segment
// and, where the value can be written in a path as it is, sent as it is
// (slashes as segment separators; ext): never a redirect.
func TestPathParameterRule(t *testing.T) {
	s := mustSpec(t)
	paramPtr := pointer("components", "parameters", "SynchronizationId")
	asIs := regexp.MustCompile(`^[A-Za-z0-9._~/-]*$`)
	for _, v := range syncIDValues {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			b, _ := json.Marshal(v)
			schemaErr := s.validate(t, false, paramPtr+"/schema", b)
			targets := []string{"/purchases/synchronizations/" + url.PathEscape(v)}
			if asIs.MatchString(v) {
				targets = append(targets, "/purchases/synchronizations/"+v)
			}
			for _, target := range targets {
				w := newWorld()
				w.stored = &transfer.Synchronization{PublisherID: publisher, ID: v, Status: transfer.StatusProcessing}
				rec := request{method: http.MethodGet, target: target, header: hdr("X-Publisher-Token", publisherTk)}.serve(w.handler())
				var codeOK bool
				switch {
				case rec.Code == http.StatusOK:
					codeOK = true
				case rec.Code == http.StatusBadRequest && strings.Contains(rec.Body.String(), `"REQ0003"`):
				default:
					t.Fatalf("GET %s answered %d %s", target, rec.Code, rec.Body)
				}
				if (schemaErr == nil) != codeOK {
					t.Errorf("GET %s: openapi.yaml accepts the synchronizationId %q: %v (%v); the code: %v", target, v, schemaErr == nil, schemaErr, codeOK)
				}
			}
		})
	}
	if s.at(syncIDSchemaPtr) == nil {
		t.Fatal("components.schemas.SynchronizationId is missing")
	}
}

// TestCredentials: the security schemes name the headers the code reads, and
// exactly one credential is required.
func TestCredentials(t *testing.T) {
	s := mustSpec(t)
	schemes := pointer("components", "securitySchemes")
	tokenHeader, _ := s.at(schemes + "/publisherToken/name").(string)
	if s.at(schemes+"/publisherToken/type") != "apiKey" || s.at(schemes+"/publisherToken/in") != "header" || tokenHeader == "" {
		t.Fatalf("publisherToken must be an apiKey header: %v", s.at(schemes+"/publisherToken"))
	}
	if s.at(schemes+"/customerJwt/type") != "http" || s.at(schemes+"/customerJwt/scheme") != "bearer" || s.at(schemes+"/customerJwt/bearerFormat") != "JWT" {
		t.Fatalf("customerJwt must be an http bearer JWT: %v", s.at(schemes+"/customerJwt"))
	}
	// Top-level security: two alternatives of one scheme each.
	sec, _ := s.raw["security"].([]any)
	var alts []string
	for _, req := range sec {
		m, _ := req.(map[string]any)
		if len(m) != 1 {
			t.Errorf("a security requirement %v combines schemes; exactly one credential is allowed", m)
		}
		alts = append(alts, sortedKeys(m)...)
	}
	if slices.Sort(alts); !reflect.DeepEqual(alts, []string{"customerJwt", "publisherToken"}) {
		t.Errorf("security alternatives = %v", alts)
	}
	for _, op := range []string{transferOp, statusOp} {
		if s.at(op+"/security") != nil {
			t.Errorf("%s overrides the top-level security", op)
		}
	}

	body := `{"cleengCustomerId":42,"transactionId":"tx-1"}`
	jwt := "Bearer " + customerJWT(t, customer)
	for _, tc := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"publisherToken alone", hdr(tokenHeader, publisherTk), http.StatusAccepted},
		{"customerJwt alone", hdr("Authorization", jwt), http.StatusAccepted},
		{"both", hdr(tokenHeader, publisherTk, "Authorization", jwt), http.StatusBadRequest},
		{"neither", hdr(), http.StatusBadRequest},
		{"malformed Authorization", hdr("Authorization", "Basic b3BlbjpzZXNhbWU="), http.StatusBadRequest},
		{"a token that is no token", hdr(tokenHeader, "pt_7_nope"), http.StatusUnauthorized},
	} {
		rec := request{method: http.MethodPost, target: "/purchases/transfers", body: body, header: tc.header}.serve(newWorld().handler())
		if rec.Code != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, rec.Code, tc.want, rec.Body)
		}
	}
}

// TestTransferAccepted checks the 202 (body, Location) of a new transfer and
// of a replay (ext), with and without a base path.
func TestTransferAccepted(t *testing.T) {
	s := mustSpec(t)
	body := `{"cleengCustomerId":42,"transactionId":"tx-1","ipAddress":"203.0.113.7"}`
	fingerprint := transfer.Request{Target: customer, TransactionID: "tx-1", IPAddress: "203.0.113.7"}.Fingerprint()
	for _, tc := range []struct {
		name, basePath, correlationID string
		replay                        bool
		wantID                        string
	}{
		{"generated id", "", "", false, "GENERATEDID234567ABCDEFGHIJ"},
		{"Correlation-Id", "", "order-4711", false, "order-4711"},
		{"Correlation-Id to escape, under a base path", "/storekit2", "a/b?c", false, "a/b?c"},
		{"replay (ext)", "", "order-4711", true, "order-4711"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			if tc.replay {
				w.conflict = &transfer.OpenConflict{TransactionLocked: true, Existing: &transfer.Synchronization{
					PublisherID: publisher, ID: tc.correlationID, CorrelationID: tc.correlationID, RequestHash: fingerprint, Status: transfer.StatusFinalized,
				}}
			}
			h := hdr("Content-Type", "application/json", "X-Publisher-Token", publisherTk)
			if tc.correlationID != "" {
				h.Set("Correlation-Id", tc.correlationID)
			}
			rec := request{method: http.MethodPost, target: "/purchases/transfers", body: body, header: h}.serve(w.handler(httpapi.WithBasePath(tc.basePath)))
			if rec.Code != http.StatusAccepted {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if err := s.validate(t, true, s.responseSchemaPtr(transferOp, "202"), rec.Body.Bytes()); err != nil {
				t.Errorf("the 202 body does not match openapi.yaml: %v\n%s", err, rec.Body)
			}
			s.checkResponseHeaders(t, transferOp, "202", rec.Header())
			var got struct {
				SynchronizationID string `json:"synchronizationId"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &got)
			if got.SynchronizationID != tc.wantID {
				t.Errorf("synchronizationId = %q, want %q", got.SynchronizationID, tc.wantID)
			}
			wantLoc := tc.basePath + "/purchases/synchronizations/" + url.PathEscape(tc.wantID)
			if loc := rec.Header().Get("Location"); loc != wantLoc {
				t.Errorf("Location = %q, the document says %q", loc, wantLoc)
			}
		})
	}
}

// TestStatusBodies serves real status bodies for every status and result of
// the code and validates them against the 200 schema (strictly), checks the
// fields' presence rules, and that the schema's properties are exactly the
// fields the code writes.
func TestStatusBodies(t *testing.T) {
	s := mustSpec(t)
	src := mustSource(t)
	created := time.Date(2026, 5, 4, 10, 15, 30, 123456789, time.UTC)
	type sample struct {
		name string
		sync transfer.Synchronization
	}
	var samples []sample
	for _, st := range src.values("Status") {
		if transfer.Status(st) == transfer.StatusFinalized {
			continue
		}
		samples = append(samples, sample{st, transfer.Synchronization{Status: transfer.Status(st)}})
	}
	for _, r := range src.values("Result") {
		sync := transfer.Synchronization{Status: transfer.StatusFinalized, Result: transfer.Result(r), OfferID: "S123456789_US", PreviousOwner: other}
		samples = append(samples, sample{"finalized " + r, sync})
	}
	seen := map[string]bool{}
	for _, sm := range samples {
		for _, corr := range []string{"", "order-4711"} {
			t.Run(fmt.Sprintf("%s, Correlation-Id %q", sm.name, corr), func(t *testing.T) {
				sync := sm.sync
				sync.PublisherID, sync.ID, sync.CorrelationID = publisher, "S4BHDJ6KT5FFYT6WJJNPNUBQM4", corr
				if corr != "" {
					sync.ID = corr
				}
				sync.TransactionID, sync.Target, sync.CreatedAt, sync.UpdatedAt = "tx-1", customer, created, created.Add(time.Second)
				w := newWorld()
				w.stored = &sync
				rec := request{method: http.MethodGet, target: "/purchases/synchronizations/" + url.PathEscape(sync.ID),
					header: hdr("Authorization", "Bearer "+customerJWT(t, customer))}.serve(w.handler())
				if rec.Code != http.StatusOK {
					t.Fatalf("%d %s", rec.Code, rec.Body)
				}
				if err := s.validate(t, true, s.responseSchemaPtr(statusOp, "200"), rec.Body.Bytes()); err != nil {
					t.Errorf("the 200 body does not match openapi.yaml: %v\n%s", err, rec.Body)
				}
				s.checkResponseHeaders(t, statusOp, "200", rec.Header())
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q", cc)
				}
				var fields map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &fields); err != nil {
					t.Fatal(err)
				}
				for k := range fields {
					seen[k] = true
				}
				if _, ok := fields["correlationId"]; ok != (corr != "") {
					t.Errorf("correlationId present: %v, but a Correlation-Id was sent: %v (%s)", ok, corr != "", rec.Body)
				}
			})
		}
	}
	props, _ := s.at(pointer("components", "schemas", "Synchronization", "properties")).(map[string]any)
	if got, want := sortedKeys(seen), sortedKeys(props); !reflect.DeepEqual(got, want) {
		t.Errorf("the status bodies the code writes have the fields %v; openapi.yaml's Synchronization has %v", got, want)
	}
}

// TestResultCodes: the documented results are the code's, each with the
// code's accessGranted, and the list stays open to unknown results.
func TestResultCodes(t *testing.T) {
	s := mustSpec(t)
	src := mustSource(t)
	ptr := pointer("components", "schemas", "SynchronizationResult")
	branches, _ := s.at(ptr + "/anyOf").([]any)
	var documented []string
	open := 0
	for _, b := range branches {
		m, _ := b.(map[string]any)
		c, ok := m["const"].(string)
		if !ok {
			if m["type"] == "string" && m["enum"] == nil && m["pattern"] == nil {
				open++
			}
			continue
		}
		documented = append(documented, c)
		if desc, _ := m["description"].(string); desc == "" {
			t.Errorf("result %s has no description", c)
		}
		granted, ok := m["x-access-granted"].(bool)
		if want := transfer.Result(c).AccessGranted(); !ok || granted != want {
			t.Errorf("result %s: x-access-granted = %v, the code grants access: %v", c, m["x-access-granted"], want)
		}
	}
	slices.Sort(documented)
	if want := src.values("Result"); !reflect.DeepEqual(documented, want) {
		t.Errorf("openapi.yaml documents the results %v; internal/transfer has %v", documented, want)
	}
	if open != 1 {
		t.Errorf("SynchronizationResult needs exactly one open {type: string} alternative, has %d: clients must tolerate unknown results", open)
	}
	if err := s.validate(t, false, ptr, []byte(`"A_RESULT_FROM_THE_FUTURE"`)); err != nil {
		t.Errorf("SynchronizationResult refuses an unknown result: %v", err)
	}
	if desc, _ := s.at(ptr + "/description").(string); !strings.Contains(desc, "must tolerate result") {
		t.Errorf("SynchronizationResult's description must tell clients to tolerate unknown results")
	}
	statuses, _ := s.at(pointer("components", "schemas", "SynchronizationStatus", "enum")).([]any)
	var gotStatuses []string
	for _, v := range statuses {
		gotStatuses = append(gotStatuses, fmt.Sprint(v))
	}
	slices.Sort(gotStatuses)
	if want := src.values("Status"); !reflect.DeepEqual(gotStatuses, want) {
		t.Errorf("openapi.yaml's SynchronizationStatus is %v; internal/transfer has %v", gotStatuses, want)
	}
}
