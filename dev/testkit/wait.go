package testkit

import (
	"net/http"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// pollEvery is how often the waits below look again.
const pollEvery = 20 * time.Millisecond

// Eventually polls cond until it holds, failing t at the deadline: the one
// way tests wait for something asynchronous, never a sleep.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
}

// WaitFinalized polls the status endpoint at baseURL until synchronization id
// is finalized and returns that answer, failing t on an answer other than
// 200 or at the deadline.
func WaitFinalized(t testing.TB, baseURL, id string, headers map[string]string, timeout time.Duration) Response {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := Do(t, baseURL, http.MethodGet, "/purchases/synchronizations/"+id, headers, "")
		if r.Status != http.StatusOK {
			t.Fatalf("status %s: %d %s", id, r.Status, r.Raw)
		}
		if status, _ := r.Body["status"].(string); status == string(transfer.StatusFinalized) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("synchronization %s not finalized in %s; last status %s", id, timeout, r.Raw)
		}
		time.Sleep(pollEvery)
	}
}
