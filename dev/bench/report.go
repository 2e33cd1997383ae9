package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Budgets of docs/design.md (§Budgets: B4, B5–B7, B9–B11).
const (
	BudgetHandlerCPU   = 100 * time.Microsecond
	BudgetLatencyRatio = 1.25
	// BudgetAppleLatencyRatio is B7 as written: an Apple notification's p50
	// within 1.15× of its own raw round trips' (AppleLatency.Floor).
	BudgetAppleLatencyRatio = 1.15
	BudgetBootstrapSize     = 10_000_000 // bytes
	BudgetColdStart         = 50 * time.Millisecond
	BudgetRSS               = 40 << 20 // bytes: Lambda's MB are MiB
)

// Results are everything one `make bench` measured.
type Results struct {
	When    time.Time
	Machine string
	// MicroRuns is the -count of the Go benchmarks.
	MicroRuns int
	Micro     []Micro
	Load      *LoadResult
	Lambdas   []LambdaResult
	Sizes     []Size
	// LoadAvg is /proc/loadavg's 1-minute load when the run started and
	// when it ended: the machine is shared.
	LoadAvg [2]string
	// LambdaEnv is what was added to the functions' environment under RIE,
	// "" for none (as deployed).
	LambdaEnv string
}

// Size is a bootstrap binary's size.
type Size struct {
	Function string
	Arch     string
	Bytes    int64
}

// Row is one line of the report.
type Row struct {
	Section, Measure, Figure, Budget, Verdict string
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "OVER"
}

func us(ns float64) string { return fmt.Sprintf("%.0f µs", ns/1e3) }

// microLabels names the benchmarks the report shows, in its order; a nil
// budget is informational.
var microLabels = []struct {
	name, label string
	budget      bool
}{
	{"Transfer/lambda-sdk-warm", "transfer: Lambda handler + SDK, caches warm", true},
	{"Transfer/lambda-sdk-nocache", "transfer: Lambda handler + SDK, no cache", true},
	{"Transfer/adapters-warm", "transfer: adapters over fake SDK interfaces, warm", true},
	{"Transfer/adapters-nocache", "transfer: adapters over fake SDK interfaces, no cache", true},
	{"Transfer/ports", "transfer: HTTP + domain over in-memory ports", true},
	{"Transfer/ports-jwt", "transfer: same, customer JWT (HS256)", true},
	{"Status/lambda-sdk-warm", "status: Lambda handler + SDK, caches warm", true},
	{"Status/lambda-sdk-nocache", "status: Lambda handler + SDK, no cache", true},
	{"Status/adapters-warm", "status: adapters over fake SDK interfaces, warm", true},
	{"Status/ports", "status: HTTP + domain over in-memory ports", true},
	{"Processor/lambda-sdk", "processor, 1 message: batch handler + SDK", false},
	{"Processor/adapters", "processor, 1 message: adapters over fake SDK interfaces", false},
	{"SDKCall/GetItem", "one SDK call alone: GetItem", false},
	{"SDKCall/TransactWriteItems", "one SDK call alone: TransactWriteItems (4 items)", false},
	{"SDKCall/SendMessage", "one SDK call alone: SendMessage", false},
	{"AppleNotification/verify", "Apple notification: verification alone (3 JWS, x5c chains to the local test root)", false},
	{"AppleNotification/adapters-warm", "Apple notification: adapters over fake SDK interfaces, warm", false},
	{"AppleNotification/lambda-sdk-warm", "Apple notification: Lambda handler + SDK, caches warm", false},
}

// Rows are the report's lines, budgets compared.
func (r Results) Rows() []Row {
	var rows []Row
	byName := map[string]Micro{}
	for _, m := range r.Micro {
		byName[m.Name] = m
	}
	for _, l := range microLabels {
		m, ok := byName[l.name]
		if !ok {
			continue
		}
		cpu, wall := m.Median("cpu-ns/op"), m.Median("ns/op")
		figure := fmt.Sprintf("cpu %s, wall %s, %.0f allocs, %.0f KB", us(cpu), us(wall), m.Median("allocs/op"), m.Median("B/op")/1024)
		row := Row{Section: "handler CPU", Measure: l.label, Figure: figure, Budget: "—", Verdict: ""}
		if l.budget {
			row.Budget = "< " + us(float64(BudgetHandlerCPU))
			row.Verdict = verdict(time.Duration(cpu) < BudgetHandlerCPU)
		}
		rows = append(rows, row)
	}

	if r.Load != nil {
		rt := r.Load.RoundTrips
		trips := func(measure string, got RoundTrips, budget string, ok bool) {
			v := verdict(ok)
			if strings.HasPrefix(budget, "—") {
				v = ""
			}
			rows = append(rows, Row{"AWS round trips", measure, fmt.Sprintf("%d: %s", got.Total(), got), budget, v})
		}
		trips("transfer, fresh container", rt.TransferCold, "≤ 3", rt.TransferCold.Total() <= 3)
		trips("transfer, warm, transactionId not seen", rt.TransferWarm, "≤ 3", rt.TransferWarm.Total() <= 3)
		trips("transfer, warm repeat (chain cached)", rt.TransferRepeat, "2", rt.TransferRepeat.Total() <= 2)
		trips("status, warm", rt.StatusWarm, "1", rt.StatusWarm.Total() <= 1)
		trips("status, fresh container", rt.StatusCold, "—", true)
		rows = append(rows, Row{"AWS round trips", "processor, per message",
			fmt.Sprintf("%.1f: %s over %d messages", rt.ProcessorPerMsg, rt.Processor, rt.ProcessorSamples), "≤ 3",
			verdict(rt.ProcessorPerMsg <= 3)})
		// The design sets no count for a notification. The fewest it allows
		// are one read of the chain (every write is conditioned on the
		// version read) and one transaction (record and change together);
		// a fresh container's publisher read could share the chain's
		// (docs/performance.md).
		if a := rt.Apple; a.Cold.Total() > 0 {
			trips("Apple DID_RENEW, fresh container", a.Cold, "— (fewest possible: 2)", true)
			trips("Apple DID_RENEW, warm, chain not seen before", a.Warm, "— (fewest possible: 2)", true)
			trips("Apple DID_RENEW, warm, chain unknown (created)", a.Unknown, "— (fewest possible: 2)", true)
			trips("Apple DID_RENEW redelivered (duplicate)", a.Duplicate, "—", true)
		}

		if lc := r.Load.LiveCheck; lc != nil {
			// The design sets no count for the live check: it is an extra
			// request to Apple by nature, and nothing more when Apple agrees.
			rows = append(rows,
				Row{"AWS round trips", "processor, per message, verifyWithApple off (same run)", fmt.Sprintf("%d: %s", lc.Off.Total(), lc.Off), "—", ""},
				Row{"AWS round trips", "processor, per message, live check, Apple agrees", fmt.Sprintf("%d: %s; + %.1f App Store Server API request", lc.Agreeing.Total(), lc.Agreeing, lc.AppleAgreeing), "— (fewest possible: off's + 1 Apple request)", ""},
				Row{"AWS round trips", "processor, per message, live check, Apple's state differs (written)", fmt.Sprintf("%d: %s; + %.1f App Store Server API request", lc.Differing.Total(), lc.Differing, lc.AppleDiffering), "—", ""},
				Row{"AWS round trips", "processor, fresh container's first live-checked job", fmt.Sprintf("%d: %s; + %d App Store Server API request", lc.Cold.Total(), lc.Cold, lc.AppleCold), "—", ""},
				Row{"loopback, processor (one job at a time)", "job, verifyWithApple off", latency(lc.OffLatency), "—", ""},
				Row{"loopback, processor (one job at a time)", "job, live check (stand-in on loopback, Apple agrees)",
					fmt.Sprintf("%s; p50 +%s", latency(lc.OnLatency), ms(lc.OnLatency.P50-lc.OffLatency.P50)), "—", ""},
			)
		}

		for _, lv := range r.Load.Levels {
			sec := fmt.Sprintf("loopback, concurrency %d", lv.Concurrency)
			rows = append(rows, Row{sec, "floor: raw TransactWriteItems + SendMessage",
				fmt.Sprintf("%s; interleaved with the transfers below: %.0f req/s together", latency(lv.Floor), lv.MixPerSecond), "(floor)", ""})
			limit := time.Duration(float64(lv.Floor.P50) * BudgetLatencyRatio)
			for _, t := range []struct {
				label string
				l     Latencies
			}{{"transfer, chain read (3 calls)", lv.Transfer}, {"transfer, chain cached (2 calls)", lv.TransferCached}} {
				rows = append(rows, Row{sec, t.label, fmt.Sprintf("%s; p50 %.2f× floor", latency(t.l), ratio(t.l, lv.Floor)),
					"p50 ≤ " + ms(limit), verdict(t.l.P50 <= limit && t.l.Errors == 0)})
			}
			rows = append(rows, Row{sec, "status", latency(lv.Status), "—", ""})
			if a := lv.Apple; a != nil {
				rows = append(rows, Row{sec, "Apple floor: raw GetItem + TransactWriteItems (3 items)",
					fmt.Sprintf("%s; interleaved with the notifications below: %.0f req/s together", latency(a.Floor), a.MixPerSecond), "(floor)", ""})
				limit := time.Duration(float64(a.Floor.P50) * BudgetAppleLatencyRatio)
				rows = append(rows, Row{sec, "Apple DID_RENEW, publisher cached (2 calls)",
					fmt.Sprintf("%s; p50 %.2f× floor", latency(a.Notification), ratio(a.Notification, a.Floor)),
					"p50 ≤ " + ms(limit) + " (B7: 1.15×)", verdict(a.Notification.P50 <= limit && a.Notification.Errors == 0)})
			}
		}
		f := r.Load.Finalized
		rows = append(rows, Row{"loopback, processor running", "202 → finalized (one at a time)",
			fmt.Sprintf("p50 %s, p90 %s, p99 %s (n=%d)", ms(f.P50), ms(f.P90), ms(f.P99), f.N), "—", ""})
		if rn := r.Load.Renewal; rn != nil {
			for _, t := range []struct {
				label string
				l     Latencies
			}{
				{"DID_RENEW → its 200 (the new transactionId names the purchase)", rn.Applied},
				{"DID_RENEW → a transfer of the new transactionId accepted (202)", rn.Accepted},
				{"DID_RENEW → that transfer finalized (TRANSFERRED)", rn.Finalized},
			} {
				rows = append(rows, Row{"loopback, processor running", t.label,
					fmt.Sprintf("p50 %s, p90 %s, p99 %s (n=%d)", ms(t.l.P50), ms(t.l.P90), ms(t.l.P99), t.l.N), "—", ""})
			}
		}
	}

	for _, s := range r.Sizes {
		rows = append(rows, Row{"Lambda", fmt.Sprintf("bootstrap size, %s (%s)", s.Function, s.Arch),
			fmt.Sprintf("%.2f MB", float64(s.Bytes)/1e6), "≤ 10 MB", verdict(s.Bytes <= BudgetBootstrapSize)})
	}
	for _, l := range r.Lambdas {
		cold, init := Median(l.ColdStarts), Median(l.Inits)
		lo, hi := minMax(l.ColdStarts)
		rows = append(rows, Row{"Lambda (RIE)", "first response of a cold start, " + l.Function,
			fmt.Sprintf("median %s (%s–%s, n=%d); init %s", ms(cold), ms(lo), ms(hi), len(l.ColdStarts), ms(init)),
			"≤ " + ms(BudgetColdStart), verdict(cold <= BudgetColdStart)})
	}
	for _, l := range r.Lambdas {
		load := fmt.Sprintf("%d invokes", l.Invokes)
		if l.Messages > 0 {
			load = fmt.Sprintf("%d invokes, %d messages", l.Invokes, l.Messages)
		}
		rows = append(rows, Row{"Lambda (RIE)", "peak RSS (VmHWM), " + l.Function,
			fmt.Sprintf("%.1f MiB (RSS at end %.1f MiB) after %s; invoke p50 %s", mib(l.Memory.HWM), mib(l.Memory.RSS), load, ms(l.Warm.P50)),
			"≤ 40 MiB", verdict(l.Memory.HWM <= BudgetRSS)})
	}
	return rows
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// ratio is l's p50 over floor's.
func ratio(l, floor Latencies) float64 { return float64(l.P50) / float64(floor.P50) }

func minMax(ds []time.Duration) (lo, hi time.Duration) {
	for i, d := range ds {
		if i == 0 || d < lo {
			lo = d
		}
		if i == 0 || d > hi {
			hi = d
		}
	}
	return lo, hi
}

func latency(l Latencies) string {
	s := fmt.Sprintf("p50 %s, p90 %s, p99 %s", ms(l.P50), ms(l.P90), ms(l.P99))
	if l.PerSecond > 0 {
		s += fmt.Sprintf(", %.0f req/s", l.PerSecond)
	}
	s += fmt.Sprintf(" (n=%d)", l.N)
	if l.Errors > 0 {
		s += fmt.Sprintf(", %d ERRORS", l.Errors)
	}
	return s
}

// WriteTable prints the rows as an aligned table.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	section := ""
	for _, r := range rows {
		if r.Section != section {
			section = r.Section
			fmt.Fprintf(tw, "%s\t\t\t\n", strings.ToUpper(section))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.Measure, r.Figure, r.Budget, r.Verdict)
	}
	return tw.Flush()
}

// Markdown renders the results as the generated part of docs/performance.md.
func (r Results) Markdown(commands []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s on %s; load average %s at the start of the load run, %s at its end.\n\n",
		r.When.UTC().Format("2006-01-02 15:04 MST"), r.Machine, r.LoadAvg[0], r.LoadAvg[1])
	if r.LambdaEnv != "" {
		fmt.Fprintf(&b, "**The functions under RIE ran with %s added to their environment** (an experiment, not the deployed setting).\n\n", r.LambdaEnv)
	}
	b.WriteString("```sh\n" + strings.Join(commands, "\n") + "\n```\n\n")
	b.WriteString("| | measure | figure | budget | |\n|---|---|---|---|---|\n")
	section := ""
	for _, row := range r.Rows() {
		sec := ""
		if row.Section != section {
			section, sec = row.Section, "**"+row.Section+"**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", sec, row.Measure, esc(row.Figure), esc(row.Budget), row.Verdict)
	}
	if len(r.Micro) > 0 {
		fmt.Fprintf(&b, "\nGo benchmarks, median and range of %d runs (`cpu` is the process's CPU time per op on all threads, GC included; `wall` is ns/op):\n\n", r.MicroRuns)
		b.WriteString("| benchmark | cpu µs/op | wall µs/op | allocs/op | B/op |\n|---|---|---|---|---|\n")
		for _, m := range r.Micro {
			clo, chi := m.Range("cpu-ns/op")
			wlo, whi := m.Range("ns/op")
			fmt.Fprintf(&b, "| %s | %.0f (%.0f–%.0f) | %.0f (%.0f–%.0f) | %.0f | %.0f |\n", m.Name,
				m.Median("cpu-ns/op")/1e3, clo/1e3, chi/1e3, m.Median("ns/op")/1e3, wlo/1e3, whi/1e3,
				m.Median("allocs/op"), m.Median("B/op"))
		}
	}
	if len(r.Lambdas) > 0 {
		b.WriteString("\nCold starts under RIE, each a fresh process (first response, and RIE's INIT REPORT):\n\n")
		b.WriteString("| function | first response (ms) | init (ms) |\n|---|---|---|\n")
		for _, l := range r.Lambdas {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", l.Function, durations(l.ColdStarts), durations(l.Inits))
		}
	}
	return b.String()
}

func durations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
	}
	return strings.Join(parts, ", ")
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Markers delimit the generated parts of docs/performance.md, by name; what
// is outside them (the analysis) is kept.
func markers(name string) (begin, end string) {
	return "<!-- " + name + ":begin (generated by `make bench`; edit outside these markers) -->", "<!-- " + name + ":end -->"
}

// UpdateDoc replaces the generated part name of the document at path,
// creating the document or appending the part if needed.
func UpdateDoc(path, name, generated string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	beginMarker, endMarker := markers(name)
	block := beginMarker + "\n" + generated + endMarker
	var doc []byte
	i, j := bytes.Index(old, []byte(beginMarker)), bytes.Index(old, []byte(endMarker))
	switch {
	case i >= 0 && j > i:
		doc = append(append(append([]byte{}, old[:i]...), block...), old[j+len(endMarker):]...)
	case len(old) > 0:
		doc = append(append(old, '\n'), block+"\n"...)
	default:
		doc = []byte("# Performance\n\n" + block + "\n")
	}
	return os.WriteFile(path, doc, 0o644)
}

// Spread is the smallest, median and largest of the key figures over runs.
func Spread(runs []Results) []Row {
	type figure struct {
		section, measure, unit string
		get                    func(Results) (float64, bool)
	}
	micro := func(name string) func(Results) (float64, bool) {
		return func(r Results) (float64, bool) {
			for _, m := range r.Micro {
				if m.Name == name {
					return m.Median("cpu-ns/op") / 1e3, true
				}
			}
			return 0, false
		}
	}
	level := func(i int, f func(LevelResult) float64) func(Results) (float64, bool) {
		return func(r Results) (float64, bool) {
			if r.Load == nil || i >= len(r.Load.Levels) {
				return 0, false
			}
			return f(r.Load.Levels[i]), true
		}
	}
	// Runs saved before the Apple endpoint was measured have no figure.
	appleLevel := func(i int, f func(AppleLatency) float64) func(Results) (float64, bool) {
		return func(r Results) (float64, bool) {
			if r.Load == nil || i >= len(r.Load.Levels) || r.Load.Levels[i].Apple == nil || r.Load.Levels[i].Apple.Floor.N == 0 {
				return 0, false
			}
			return f(*r.Load.Levels[i].Apple), true
		}
	}
	msOf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	lambda := func(fn string, f func(LambdaResult) float64) func(Results) (float64, bool) {
		return func(r Results) (float64, bool) {
			for _, l := range r.Lambdas {
				if l.Function == fn {
					return f(l), true
				}
			}
			return 0, false
		}
	}
	figures := []figure{
		{"handler CPU", "transfer, Lambda handler + SDK, warm", "µs", micro("Transfer/lambda-sdk-warm")},
		{"handler CPU", "transfer, adapters over fake SDK interfaces, warm", "µs", micro("Transfer/adapters-warm")},
		{"handler CPU", "status, Lambda handler + SDK, warm", "µs", micro("Status/lambda-sdk-warm")},
		{"handler CPU", "one SDK call (GetItem)", "µs", micro("SDKCall/GetItem")},
		{"handler CPU", "Apple notification, verification alone", "µs", micro("AppleNotification/verify")},
	}
	for i, c := range []string{"1", "8"} {
		figures = append(figures,
			figure{"loopback c=" + c, "floor p50", "ms", level(i, func(l LevelResult) float64 { return msOf(l.Floor.P50) })},
			figure{"loopback c=" + c, "transfer (chain read) p50 / floor p50", "×", level(i, func(l LevelResult) float64 {
				return ratio(l.Transfer, l.Floor)
			})},
			figure{"loopback c=" + c, "transfer (chain cached) p50 / floor p50", "×", level(i, func(l LevelResult) float64 {
				return ratio(l.TransferCached, l.Floor)
			})},
			figure{"loopback c=" + c, "status p50", "ms", level(i, func(l LevelResult) float64 { return msOf(l.Status.P50) })},
			figure{"loopback c=" + c, "Apple floor p50", "ms", appleLevel(i, func(a AppleLatency) float64 { return msOf(a.Floor.P50) })},
			figure{"loopback c=" + c, "Apple DID_RENEW p50 / Apple floor p50 (B7)", "×", appleLevel(i, func(a AppleLatency) float64 {
				return ratio(a.Notification, a.Floor)
			})},
		)
	}
	figures = append(figures, figure{"loopback", "202 → finalized p50", "ms", func(r Results) (float64, bool) {
		if r.Load == nil {
			return 0, false
		}
		return msOf(r.Load.Finalized.P50), true
	}}, figure{"loopback", "DID_RENEW → transfer of it finalized p50", "ms", func(r Results) (float64, bool) {
		if r.Load == nil || r.Load.Renewal == nil {
			return 0, false
		}
		return msOf(r.Load.Renewal.Finalized.P50), true
	}})
	for _, fn := range []string{"transfer", "status", "processor"} {
		figures = append(figures,
			figure{"Lambda (RIE)", "cold start, first response, median, " + fn, "ms", lambda(fn, func(l LambdaResult) float64 { return msOf(Median(l.ColdStarts)) })},
			figure{"Lambda (RIE)", "peak RSS, " + fn, "MiB", lambda(fn, func(l LambdaResult) float64 { return mib(l.Memory.HWM) })})
	}
	var rows []Row
	for _, f := range figures {
		var vals []float64
		for _, r := range runs {
			if v, ok := f.get(r); ok {
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 {
			continue
		}
		lo, hi := vals[0], vals[0]
		for _, v := range vals {
			lo, hi = min(lo, v), max(hi, v)
		}
		format := "%.1f"
		if f.unit == "×" {
			format = "%.2f"
		}
		fig := fmt.Sprintf(format+" / "+format+" / "+format+" %s", lo, Median(vals), hi, f.unit)
		rows = append(rows, Row{Section: f.section, Measure: f.measure, Figure: fig, Budget: fmt.Sprintf("%d runs", len(vals))})
	}
	return rows
}

// SpreadMarkdown renders Spread as a table, with the runs' dates and loads.
func SpreadMarkdown(runs []Results) string {
	var b strings.Builder
	var when []string
	for _, r := range runs {
		when = append(when, fmt.Sprintf("%s (load %s→%s)", r.When.UTC().Format("01-02 15:04"), r.LoadAvg[0], r.LoadAvg[1]))
	}
	fmt.Fprintf(&b, "The last %d runs of `make bench` on this machine: %s. Smallest / median / largest of each run's figure.\n\n",
		len(runs), strings.Join(when, ", "))
	b.WriteString("| | measure | min / median / max |\n|---|---|---|\n")
	section := ""
	for _, row := range Spread(runs) {
		sec := ""
		if row.Section != section {
			section, sec = row.Section, "**"+row.Section+"**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", sec, row.Measure, row.Figure)
	}
	return b.String()
}
