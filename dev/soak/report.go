package soak

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/acme/purchase-transfer/dev/bench"
)

// Report is what one soak saw.
type Report struct {
	Load, Drain time.Duration
	// Answers are by operation, then by HTTP status and code.
	Answers   map[string]map[string]int
	Latencies map[string]bench.Latencies
	// Results are the finalized synchronizations by result.
	Results map[string]int
	Faults  map[string]int
	// Restarts are the consumer processes started again, by role.
	Restarts map[string]int
	// Webhooks are the deliveries each receiver accepted.
	Webhooks   map[string]int
	violations map[string][]string
	// Meters are each process role's round trips, batches and messages.
	Meters   map[string]map[string]Tick
	Capacity *CapacityResult
}

func newReport(w *world, faults *Tally, results map[string]int, receivers []*receiver, load, drain time.Duration) *Report {
	w.stats.mu.Lock()
	defer w.stats.mu.Unlock()
	r := &Report{Load: load, Drain: drain, Answers: w.stats.answers, Latencies: map[string]bench.Latencies{},
		Results: results, Faults: faults.Counts(), Restarts: map[string]int{}, Webhooks: map[string]int{}, violations: w.stats.violations}
	for op, l := range w.stats.latencies {
		r.Latencies[op] = bench.Summarize(l, 0, load)
	}
	for _, rc := range receivers {
		rc.mu.Lock()
		r.Webhooks[rc.kind] = rc.deliveries
		rc.mu.Unlock()
	}
	return r
}

// Violations is how many the soak found.
func (r *Report) Violations() int {
	n := 0
	for _, v := range r.violations {
		n += len(v)
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (r *Report) print(out io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(out, format, a...) }
	total := 0
	for _, codes := range r.Answers {
		for _, n := range codes {
			total += n
		}
	}
	p("\n=== soak report ===\nload %s, drain %s, %d requests\n", r.Load.Round(time.Second), r.Drain.Round(time.Second), total)
	p("\nanswers by operation and code:\n")
	for _, op := range sortedKeys(r.Answers) {
		var parts []string
		for _, code := range sortedKeys(r.Answers[op]) {
			parts = append(parts, fmt.Sprintf("%s ×%d", code, r.Answers[op][code]))
		}
		p("  %-28s %s\n", op, strings.Join(parts, ", "))
	}
	p("\nlatency (ms)                    n      p50      p90      p99      max\n")
	for _, op := range sortedKeys(r.Latencies) {
		l := r.Latencies[op]
		p("  %-26s %6d %8.1f %8.1f %8.1f %8.1f\n", op, l.N, msf(l.P50), msf(l.P90), msf(l.P99), msf(l.Max))
	}
	p("\nresults (finalized synchronizations):\n")
	for _, k := range sortedKeys(r.Results) {
		p("  %-34s %d\n", k, r.Results[k])
	}
	p("\nwebhook deliveries accepted, by receiver: ")
	for _, k := range sortedKeys(r.Webhooks) {
		p("%s %d  ", k, r.Webhooks[k])
	}
	p("\n\nfaults injected:\n")
	for _, k := range sortedKeys(r.Faults) {
		p("  %-48s %d\n", k, r.Faults[k])
	}
	for _, k := range sortedKeys(r.Restarts) {
		p("  consumer processes restarted (%s)%*s %d\n", k, 48-len("consumer processes restarted ()")-len(k), "", r.Restarts[k])
	}
	printMeters(out, r.Meters, r.Load+r.Drain)
	if r.Capacity != nil {
		r.Capacity.print(out)
	}
	p("\nviolations: %d\n", r.Violations())
	for _, k := range sortedKeys(r.violations) {
		ex := r.violations[k]
		p("  %s: %d\n", k, len(ex))
		for i, e := range ex {
			if i == 5 {
				p("    … and %d more\n", len(ex)-5)
				break
			}
			p("    %s\n", e)
		}
	}
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

func stringReader(s string) io.Reader { return strings.NewReader(s) }
