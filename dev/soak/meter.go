package soak

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Meter counts, by name, how many times something happened and how long it
// took in all: the round trips a process sends to the emulators ("dynamodb
// UpdateItem"), the batches it handles, the messages by kind, the sweepers'
// re-sends. It is how the soak says where its time goes instead of guessing
// (the figures of docs/performance.md, Soak); safe for concurrent use.
type Meter struct {
	mu sync.Mutex
	m  map[string]Tick
	// reports counts the consumer processes' reports added (Add).
	reports int64
}

// Tick is one name's count and total duration.
type Tick struct {
	N     int64 `json:"n"`
	Nanos int64 `json:"ns"`
}

// Mean is the average duration, 0 when nothing was counted.
func (t Tick) Mean() time.Duration {
	if t.N == 0 {
		return 0
	}
	return time.Duration(t.Nanos / t.N)
}

// NewMeter is an empty Meter.
func NewMeter() *Meter { return &Meter{m: map[string]Tick{}} }

// Observe counts one occurrence of name that took d (0 for a count only).
// A nil Meter counts nothing.
func (m *Meter) Observe(name string, d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	t := m.m[name]
	t.N++
	t.Nanos += int64(d)
	m.m[name] = t
	m.mu.Unlock()
}

// Count counts n occurrences of name, without a duration.
func (m *Meter) Count(name string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.mu.Lock()
	t := m.m[name]
	t.N += int64(n)
	m.m[name] = t
	m.mu.Unlock()
}

// Add adds counts (a consumer process's report).
func (m *Meter) Add(ticks map[string]Tick) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reports++
	for k, v := range ticks {
		t := m.m[k]
		t.N += v.N
		t.Nanos += v.Nanos
		m.m[k] = t
	}
}

// Reports is how many reports were added.
func (m *Meter) Reports() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reports
}

// Take returns the counts and starts from zero: what a consumer process
// reports each time is what it did since the last report, so that a process
// killed loses only its last interval.
func (m *Meter) Take() map[string]Tick {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.m
	m.m = map[string]Tick{}
	return out
}

// Snapshot is a copy of the counts.
func (m *Meter) Snapshot() map[string]Tick {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Tick, len(m.m))
	for k, v := range m.m {
		out[k] = v
	}
	return out
}

// meterLine is a consumer process's report of its counts on standard output.
type meterLine struct {
	Meter map[string]Tick `json:"meter"`
}

// reportMeter writes m's counts to w as a JSON line every interval until
// stop is closed (then once more).
func reportMeter(m *Meter, w io.Writer, mu *sync.Mutex, every time.Duration, stop <-chan struct{}) {
	enc := json.NewEncoder(w)
	t := time.NewTicker(every)
	defer t.Stop()
	flush := func() {
		// An empty report is written too: it tells the parent that this
		// process's counts up to now are in (the capacity halves wait so).
		ticks := m.Take()
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(meterLine{Meter: ticks})
	}
	for {
		select {
		case <-stop:
			flush()
			return
		case <-t.C:
			flush()
		}
	}
}

// printMeters prints each process role's counts: round trips first, then
// the rest, each with its count per second of the run and its mean.
func printMeters(out io.Writer, meters map[string]map[string]Tick, over time.Duration) {
	if len(meters) == 0 {
		return
	}
	fmt.Fprintf(out, "\nwhere the time goes, by process (counts over load and drain, %s; mean duration):\n", over.Round(time.Second))
	for _, role := range sortedKeys(meters) {
		fmt.Fprintf(out, "  %s:\n", role)
		names := sortedKeys(meters[role])
		// Round trips (named by their service) before the handlers' counts.
		sort.SliceStable(names, func(i, j int) bool { return roundTrip(names[i]) && !roundTrip(names[j]) })
		for _, n := range names {
			t := meters[role][n]
			rate := 0.0
			if over > 0 {
				rate = float64(t.N) / over.Seconds()
			}
			mean := ""
			if t.Nanos > 0 {
				mean = fmt.Sprintf("%8.1f ms", msf(t.Mean()))
			}
			fmt.Fprintf(out, "    %-40s %8d %7.1f/s %s\n", n, t.N, rate, mean)
		}
	}
}

func roundTrip(name string) bool {
	return strings.HasPrefix(name, "dynamodb ") || strings.HasPrefix(name, "sqs ")
}
