package inprocess

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// make run gives each request the deadline Lambda would give its function's
// invocation; the handlers keep their margin within it.
func TestAPIInvocationsHaveTheirFunctionsTimeout(t *testing.T) {
	t.Parallel()
	var got time.Duration
	record := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		d, ok := r.Context().Deadline()
		if !ok {
			t.Error("a request without a deadline")
		}
		got = time.Until(d)
	})
	h := apiInvocations(record, map[string]time.Duration{"TransferFunction": 10 * time.Second, "StatusFunction": 20 * time.Second})
	for path, want := range map[string]time.Duration{
		"/purchases/transfers":            10 * time.Second,
		"/purchases/synchronizations/s-1": 20 * time.Second,
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
		if got > want || got < want-5*time.Second {
			t.Errorf("%s: deadline in %v, want %v", path, got, want)
		}
	}
}
