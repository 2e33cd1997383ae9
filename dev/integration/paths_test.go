package integration_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// TestUnnormalizedIDsThroughTheLocalRunner sends synchronizationIds with an
// empty or dot segment through the HTTP stack `make run` serves
// (inprocess.LocalAPI on a real HTTP server), over the wire as they are
// written, with a client that follows no redirect: the transfer refuses each
// as a Correlation-Id (400 REQ0004, nothing stored), and the status endpoint
// answers each path itself (400 REQ0003), never with a 3xx. An id with a
// slash that is valid is accepted and polled as sent, escaped or not.
func TestUnnormalizedIDsThroughTheLocalRunner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	api, err := e.svc.LocalAPI(e.queue, stack.FunctionTimeouts())
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(api)
	t.Cleanup(server.Close)
	client := &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	send := func(method, path string, hdr map[string]string, body string) (int, http.Header, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, server.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := req.URL.EscapedPath(); got != path {
			t.Fatalf("the client would send %q for %q", got, path)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var decoded map[string]any
		_ = json.Unmarshal(raw, &decoded)
		return resp.StatusCode, resp.Header, decoded
	}

	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	pur := e.seedPurchase(pub, cs[0], transfer.StateActive, time.Now().Add(time.Hour))
	body := transferBody(cs[1], pur.TransactionIDs[0])
	before := e.items()
	for _, id := range []string{"a/../b", "a//b", "/a", "a/", "./x", "a/./b", "x/..", ".", ".."} {
		hdr := tokenHeader(pub)
		hdr["Correlation-Id"] = id
		if status, h, b := send(http.MethodPost, "/purchases/transfers", hdr, body); status != http.StatusBadRequest || b["code"] != string(transfer.CodeInvalidHeaders) {
			t.Errorf("POST with Correlation-Id %q: %d %v %v, want 400 REQ0004", id, status, h, b)
		}
		for _, path := range []string{
			"/purchases/synchronizations/" + id,
			"/purchases/synchronizations/" + strings.ReplaceAll(id, "/", "%2F"),
		} {
			status, h, b := send(http.MethodGet, path, tokenHeader(pub), "")
			if status != http.StatusBadRequest || b["code"] != string(transfer.CodeInvalidPathParam) || h.Get("Location") != "" {
				t.Errorf("GET %s: %d %v %v, want 400 REQ0003 and no Location", path, status, h, b)
			}
		}
	}
	if after := e.items(); !reflect.DeepEqual(after, before) {
		t.Errorf("the refused transfers left items behind:\nbefore %v\nafter  %v", before, after)
	}

	// A valid id with a slash: accepted, and polled escaped (as Location
	// gives it) and as path segments alike.
	hdr := tokenHeader(pub)
	hdr["Correlation-Id"] = "order/4711"
	status, h, b := send(http.MethodPost, "/purchases/transfers", hdr, body)
	if status != http.StatusAccepted || h.Get("Location") != "/purchases/synchronizations/"+url.PathEscape("order/4711") {
		t.Fatalf("POST with Correlation-Id order/4711: %d %v %v", status, h, b)
	}
	for _, path := range []string{h.Get("Location"), "/purchases/synchronizations/order/4711"} {
		if status, _, b := send(http.MethodGet, path, tokenHeader(pub), ""); status != http.StatusOK || b["synchronizationId"] != "order/4711" {
			t.Errorf("GET %s: %d %v, want 200 of order/4711", path, status, b)
		}
	}
}
