package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// unnormalizedIDs are synchronizationIds with an empty or dot segment: each
// names another path to a router that cleans paths (http.ServeMux answers
// them 307), so the contract refuses them (REQ0004 at the transfer, REQ0003
// at the status endpoint), sent as path segments or percent-encoded.
var unnormalizedIDs = []string{"a/../b", "a//b", "/a", "a/", "./x", "../x", "x/.", "x/..", "a/./b", ".", "..", "/", "//"}

func TestStatusAnswersUnnormalizedPathsItself(t *testing.T) {
	t.Parallel()
	for _, id := range unnormalizedIDs {
		for _, path := range []string{syncsPath + id, syncsPath + strings.ReplaceAll(id, "/", "%2F"), syncsPath + strings.ReplaceAll(id, ".", "%2E")} {
			t.Run(path, func(t *testing.T) {
				t.Parallel()
				for name, h := range map[string]http.Handler{
					"status handler": httpapi.NewStatusHandler(&fakeStatusReader{}, &fakeVerifier{}),
					"both handlers":  httpapi.NewHandler(&fakeAcceptor{}, &fakeStatusReader{}, &fakeVerifier{}),
				} {
					rec := serve(h, http.MethodGet, path, "", headers("X-Publisher-Token", pubToken))
					e := decodeError(t, rec, http.StatusBadRequest, transfer.CodeInvalidPathParam)
					if len(e.Details) != 1 || e.Details[0].Field != "synchronizationId" || e.Details[0].Message != transfer.SynchronizationIDRule {
						t.Errorf("%s: details = %+v", name, e.Details)
					}
					if loc := rec.Header().Get("Location"); loc != "" {
						t.Errorf("%s: Location %q", name, loc)
					}
				}
			})
		}
	}
}

// Through the API Gateway adapter, as Lambda calls the status function: the
// same answers, never a redirect.
func TestLambdaStatusAnswersUnnormalizedPathsItself(t *testing.T) {
	t.Parallel()
	for _, basePath := range []string{"", "/storekit2"} {
		handle := httpapi.LambdaHandler(httpapi.NewStatusHandler(&fakeStatusReader{}, &fakeVerifier{}), basePath)
		for _, id := range unnormalizedIDs {
			rawPath := basePath + syncsPath + id
			resp, err := handle(context.Background(), gatewayEvent(http.MethodGet, rawPath, "", map[string]string{"x-publisher-token": pubToken}))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, `"code":"REQ0003"`) {
				t.Errorf("GET %s: %d %v %s, want 400 REQ0003", rawPath, resp.StatusCode, resp.Headers, resp.Body)
			}
		}
	}
}

func TestTransferRefusesUnnormalizedCorrelationIDs(t *testing.T) {
	t.Parallel()
	for _, id := range unnormalizedIDs {
		acc := &fakeAcceptor{}
		rec := serve(httpapi.NewHandler(acc, &fakeStatusReader{}, &fakeVerifier{}), http.MethodPost, transfersPath, validBody, tokenHeaders("Correlation-Id", id))
		e := decodeError(t, rec, http.StatusBadRequest, transfer.CodeInvalidHeaders)
		if len(e.Details) != 1 || e.Details[0].Field != "Correlation-Id" || e.Details[0].Message != transfer.SynchronizationIDRule {
			t.Errorf("Correlation-Id %q: details = %+v", id, e.Details)
		}
		if len(acc.calls()) != 0 {
			t.Errorf("Correlation-Id %q reached the acceptor", id)
		}
	}
}

// Every other path is routed as sent too: what is no route is a 404, a
// wrong method a 405 with Allow, and nothing is a redirect.
func TestRoutesNeverRedirect(t *testing.T) {
	t.Parallel()
	status := &fakeStatusReader{sync: transfer.Synchronization{Status: transfer.StatusProcessing}}
	var routes httpapi.Routes
	routes.Handle("/", httpapi.NewHandler(&fakeAcceptor{}, status, &fakeVerifier{}))
	routes.Handle("/apple/notifications", httpapi.NewAppleNotificationHandler(&fakeReceiver{}))
	tests := []struct {
		method, target string
		want           int
		allow          string
	}{
		{http.MethodPost, "/purchases/transfers", http.StatusAccepted, ""},
		{http.MethodGet, "/purchases/synchronizations/a/b", http.StatusOK, ""},
		{http.MethodHead, "/purchases/synchronizations/a", http.StatusOK, ""},
		{http.MethodPost, "/apple/notifications/7", http.StatusOK, ""},
		{http.MethodPost, "//purchases/transfers", http.StatusNotFound, ""},
		{http.MethodPost, "/purchases/./transfers", http.StatusNotFound, ""},
		{http.MethodPost, "/purchases/transfers/", http.StatusNotFound, ""},
		{http.MethodPost, "/purchases/x/../transfers", http.StatusNotFound, ""},
		{http.MethodGet, "/purchases//synchronizations/a", http.StatusNotFound, ""},
		{http.MethodGet, "/purchases/synchronizationsX", http.StatusNotFound, ""},
		{http.MethodPost, "/apple/notifications/7/", http.StatusNotFound, ""},
		{http.MethodPost, "/apple/notifications//7", http.StatusNotFound, ""},
		{http.MethodPost, "/apple/notifications/", http.StatusNotFound, ""},
		{http.MethodPost, "/apple/notifications/../7", http.StatusNotFound, ""},
		{http.MethodGet, "/", http.StatusNotFound, ""},
		{http.MethodGet, "/purchases/transfers", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "/purchases/synchronizations/a", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "/apple/notifications/7", http.StatusMethodNotAllowed, "POST"},
	}
	for _, tc := range tests {
		body := ""
		switch tc.method {
		case http.MethodPost:
			body = validBody
			if strings.HasPrefix(tc.target, "/apple/") {
				body = `{"signedPayload":"a.b.c"}`
			}
		}
		rec := serve(&routes, tc.method, tc.target, body, tokenHeaders())
		if rec.Code != tc.want || rec.Header().Get("Allow") != tc.allow || rec.Header().Get("Location") != "" && tc.want != http.StatusAccepted {
			t.Errorf("%s %s: %d Allow %q Location %q, want %d Allow %q", tc.method, tc.target, rec.Code,
				rec.Header().Get("Allow"), rec.Header().Get("Location"), tc.want, tc.allow)
		}
	}
}

// A path the proxy could not parse as sent (a lone '%', a '#', a '?' or a
// space in API Gateway's rawPath) still reaches the router, which answers it
// as any other: REQ0003 for an invalid id, the synchronization for a valid
// one ('#' and '?' are id characters); the function never fails as a whole
// (an undocumented 5xx).
func TestLambdaStatusAnswersUnparsablePaths(t *testing.T) {
	t.Parallel()
	handle := httpapi.LambdaHandler(httpapi.NewStatusHandler(&fakeStatusReader{}, &fakeVerifier{}), "")
	for _, id := range []string{"a#b", "a?b", "#?"} {
		resp, err := handle(context.Background(), gatewayEvent(http.MethodGet, syncsPath+id, "", map[string]string{"x-publisher-token": pubToken}))
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"synchronizationId":"`+id+`"`) {
			t.Errorf("GET %q: %v %d %s, want 200 for %q", syncsPath+id, err, resp.StatusCode, resp.Body, id)
		}
	}
	for _, rest := range []string{"%", "a%zz", "#?%", "a b", "\x00", "é"} {
		resp, err := handle(context.Background(), gatewayEvent(http.MethodGet, syncsPath+rest, "", map[string]string{"x-publisher-token": pubToken}))
		if err != nil {
			t.Fatalf("GET %q: the function failed: %v", syncsPath+rest, err)
		}
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, `"code":"REQ0003"`) {
			t.Errorf("GET %q: %d %s, want 400 REQ0003", syncsPath+rest, resp.StatusCode, resp.Body)
		}
	}
}
