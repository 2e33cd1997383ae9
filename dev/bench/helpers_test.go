package bench_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/bench"
)

// Quick checks that run in `make test`: the benchmarks measure the success
// path, and the report's helpers compute what they say.

func TestEveryLevelAnswersLikeTheService(t *testing.T) {
	f := newFixture(t)
	pt, ps := f.portsHandlers()
	at, as, proc := f.adapterHandlers(warm)
	for name, c := range map[string]struct {
		h    http.Handler
		req  *http.Request
		want int
	}{
		"ports transfer":    {pt, f.transferRequest(), http.StatusAccepted},
		"ports status":      {ps, f.statusRequest(), http.StatusOK},
		"adapters transfer": {at, f.transferRequest(), http.StatusAccepted},
		"adapters status":   {as, f.statusRequest(), http.StatusOK},
	} {
		w := httptest.NewRecorder()
		c.h.ServeHTTP(w, c.req)
		if w.Code != c.want {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	if err := proc.Handle(context.Background(), f.job, 1); err != nil {
		t.Errorf("processor: %v", err)
	}
	for _, ttl := range []time.Duration{warm, 0} {
		lt, ls := f.lambdaHandlers(ttl)
		if resp, err := lt(context.Background(), f.transferEvent()); err != nil || resp.StatusCode != http.StatusAccepted {
			t.Errorf("lambda transfer (ttl %v): %d %v %s", ttl, resp.StatusCode, err, resp.Body)
		}
		if resp, err := ls(context.Background(), f.statusEvent()); err != nil || resp.StatusCode != http.StatusOK ||
			!strings.Contains(resp.Body, `"result":"PURCHASE_OWNERSHIP_TRANSFERRED"`) {
			t.Errorf("lambda status (ttl %v): %d %v %s", ttl, resp.StatusCode, err, resp.Body)
		}
	}
	svc, _ := f.sdkService(warm)
	if resp, err := svc.ProcessorBatchHandler()(context.Background(), sqsEvent(t, f.job)); err != nil || len(resp.BatchItemFailures) > 0 {
		t.Errorf("lambda processor: %v %+v", err, resp)
	}
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 90: 90, 99: 99, 100: 100, 0: 1} {
		if got := bench.Percentile(s, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	l := bench.Summarize([]time.Duration{3, 1, 2}, 0, time.Second)
	if l.P50 != 2 || l.Max != 3 || l.PerSecond != 3 {
		t.Errorf("summary %+v", l)
	}
}

func TestParseMicro(t *testing.T) {
	out := `goos: linux
BenchmarkTransfer/ports-2         	   50000	     20000 ns/op	     18000 cpu-ns/op	   10317 B/op	      67 allocs/op
BenchmarkTransfer/ports-2         	   50000	     30000 ns/op	     19000 cpu-ns/op	   10317 B/op	      67 allocs/op
BenchmarkTransfer/ports-2         	   50000	     10000 ns/op	     17000 cpu-ns/op	   10317 B/op	      67 allocs/op
BenchmarkStatus/ports-2           	   50000	      7000 ns/op	      7000 cpu-ns/op	    8088 B/op	      39 allocs/op
PASS
`
	got, err := bench.ParseMicro(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "Transfer/ports" || got[1].Name != "Status/ports" {
		t.Fatalf("parsed %+v", got)
	}
	if m := got[0].Median("ns/op"); m != 20000 {
		t.Errorf("median ns/op = %v", m)
	}
	if lo, hi := got[0].Range("cpu-ns/op"); lo != 17000 || hi != 19000 {
		t.Errorf("range = %v..%v", lo, hi)
	}
}

func TestUpdateDocKeepsWhatIsOutsideTheMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "performance.md")
	if err := bench.UpdateDoc(path, "bench", "first\n"); err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile(path)
	edited := strings.Replace(string(doc), "# Performance\n", "# Performance\n\nAnalysis above.\n", 1) + "\nAnalysis below.\n"
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := bench.UpdateDoc(path, "bench", "second\n"); err != nil {
		t.Fatal(err)
	}
	doc, _ = os.ReadFile(path)
	s := string(doc)
	if strings.Contains(s, "first") || !strings.Contains(s, "second") ||
		!strings.Contains(s, "Analysis above.") || !strings.Contains(s, "Analysis below.") {
		t.Errorf("document:\n%s", s)
	}
}

func TestRoundTripsString(t *testing.T) {
	r := bench.RoundTrips{"TransactWriteItems": 1, "BatchGetItem": 2}
	if got := r.String(); got != "BatchGetItem×2 + TransactWriteItems" || r.Total() != 3 {
		t.Errorf("%q %d", got, r.Total())
	}
}

func TestAttributeCPU(t *testing.T) {
	traces := `File: bench.test
Type: cpu
-----------+-------------------------------------------------------
      30ms   crypto/internal/fips140/sha256.blockSHANI
             github.com/aws/aws-sdk-go-v2/aws/signer/v4.(*ComputePayloadSHA256).HandleFinalize
             github.com/aws/aws-sdk-go-v2/service/dynamodb.(*Client).GetItem
-----------+-------------------------------------------------------
      10ms   net/http.Header.Clone
             github.com/aws/smithy-go/transport/http.(*Request).Clone
-----------+-------------------------------------------------------
      50ms   runtime.scanobject
             runtime.gcDrain
             runtime.gcBgMarkWorker
-----------+-------------------------------------------------------
      10ms   runtime.mallocgc
             net/http.Header.Set
             github.com/acme/purchase-transfer/internal/httpapi.writeJSON
-----------+-------------------------------------------------------
`
	got, err := bench.AttributeCPU(strings.NewReader(traces))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"GC (background workers and assists)":                 50,
		"SDK: SigV4 signing, payload SHA-256":                 30,
		"SDK: retryer, user agent, other middleware":          10,
		"ours: httpapi, transfer, dynamo, queue, auth, cache": 10,
	}
	if len(got) != len(want) {
		t.Fatalf("shares %+v", got)
	}
	for _, s := range got {
		if want[s.Category] != s.Percent {
			t.Errorf("%s = %v%%, want %v%%", s.Category, s.Percent, want[s.Category])
		}
	}
}
