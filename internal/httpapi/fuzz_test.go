package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// documentedRefusal is the shape of every client error code of docs/contract.md §1.6.
var documentedRefusal = regexp.MustCompile(`^(REQ|AUTH)[0-9]{4}$`)

// FuzzTransferRequest sends whatever headers and body a caller could send to
// the transfer handler. Whatever they are, the answer is a 202 or a
// documented 4xx error body, never a 5xx or a panic; a header refusal never
// reaches the acceptor (nothing is written); an acceptance carries exactly
// the Correlation-Id sent, and a body the acceptor was told is valid.
func FuzzTransferRequest(f *testing.F) {
	const (
		withToken = 1 << iota
		withAuthorization
		withCorrelationID
		withContentType
	)
	f.Add(uint8(withToken|withContentType), pubToken, "", "", "application/json", validBody)
	f.Add(uint8(withAuthorization|withCorrelationID), "", "Bearer "+goodJWT, "order-17/renewal", "", validBody)
	f.Add(uint8(withToken|withCorrelationID|withContentType), pubToken, "", "..", "application/json; charset=utf-8", `{"cleengCustomerId":1}`)
	f.Add(uint8(withToken|withAuthorization), pubToken, "Basic x", "a b", "text/plain", `[]`)
	f.Add(uint8(withToken), pubToken, "", "", "", `{"cleengCustomerId":42,"transactionId":"tx","ipAddress":"::1","signedTransactionInfo":7}`)
	f.Add(uint8(withToken), pubToken, "", "", "", `{"cleengCustomerId":9223372036854775808,"transactionId":"","ipAddress":"1.2.3.4"}`)

	f.Fuzz(func(t *testing.T, present uint8, token, authorization, correlationID, contentType, body string) {
		hdr := http.Header{}
		set := func(bit uint8, name, value string) {
			if present&bit != 0 {
				hdr[name] = []string{value}
			}
		}
		set(withToken, "X-Publisher-Token", token)
		set(withAuthorization, "Authorization", authorization)
		set(withCorrelationID, "Correlation-Id", correlationID)
		set(withContentType, "Content-Type", contentType)

		acceptor := &fakeAcceptor{}
		rec := serve(newTransferHandler(acceptor), http.MethodPost, transfersPath, body, hdr)
		calls := acceptor.calls()

		switch {
		case rec.Code == http.StatusAccepted:
			if len(calls) != 1 || calls[0].BodyError != nil {
				t.Fatalf("202 without one valid intake: %+v", calls)
			}
			if got := calls[0].CorrelationID; present&withCorrelationID != 0 && got != correlationID {
				t.Fatalf("accepted under Correlation-Id %q, sent %q", got, correlationID)
			}
			if present&withCorrelationID != 0 && !transfer.ValidSynchronizationID(correlationID) {
				t.Fatalf("accepted the Correlation-Id %q, which cannot be polled", correlationID)
			}
		case rec.Code >= 400 && rec.Code < 500:
			var e struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !documentedRefusal.MatchString(e.Code) || e.Message == "" {
				t.Fatalf("%d with an undocumented body %q", rec.Code, rec.Body)
			}
			if e.Code == string(transfer.CodeInvalidHeaders) && len(calls) != 0 {
				t.Fatalf("%s reached the acceptor: %+v", e.Code, calls)
			}
		default:
			t.Fatalf("status %d (body %q): only 202 and documented 4xx answers are possible here", rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "panic") {
			t.Fatalf("body mentions a panic: %q", rec.Body)
		}
	})
}

// FuzzStatusPath polls whatever path a caller could send under the synchronizations route,
// through the router and through the API Gateway adapter. The answer is never a redirect and
// never a 5xx; the status reader is asked only for a valid synchronizationId.
func FuzzStatusPath(f *testing.F) {
	for _, s := range append([]string{"ABC", "order-17/renewal", "a%2Fb", "%2E%2E", "a?b=c", "a#b", "é", "a%00"}, unnormalizedIDs...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + syncsPath + rest + " HTTP/1.1\r\nHost: api\r\n\r\n")))
		if err != nil {
			return // not a request line any server would hand a handler
		}
		req.Header.Set("X-Publisher-Token", pubToken)
		reader := &fakeStatusReader{}
		rec := httptest.NewRecorder()
		httpapi.NewHandler(&fakeAcceptor{}, reader, &fakeVerifier{}).ServeHTTP(rec, req)
		if rec.Code >= 300 && rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("GET %s: %d (Location %q)", req.RequestURI, rec.Code, rec.Header().Get("Location"))
		}
		for _, c := range reader.calls {
			if !transfer.ValidSynchronizationID(c.id) {
				t.Fatalf("GET %s read the invalid id %q", req.RequestURI, c.id)
			}
		}

		resp, err := httpapi.LambdaHandler(httpapi.NewStatusHandler(reader, &fakeVerifier{}), "")(context.Background(),
			gatewayEvent(http.MethodGet, syncsPath+rest, "", map[string]string{"x-publisher-token": pubToken}))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Fatalf("Lambda GET %s: %d %v", syncsPath+rest, resp.StatusCode, resp.Headers)
		}
		for _, c := range reader.calls {
			if !transfer.ValidSynchronizationID(c.id) {
				t.Fatalf("Lambda GET %s read the invalid id %q", syncsPath+rest, c.id)
			}
		}
	})
}
