package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Latencies summarizes a set of request durations.
type Latencies struct {
	N             int
	Errors        int
	P50, P90, P99 time.Duration
	Max           time.Duration
	// PerSecond is the completed requests per second of wall time.
	PerSecond float64
}

// Summarize computes nearest-rank percentiles of samples, and the throughput
// over wall.
func Summarize(samples []time.Duration, errors int, wall time.Duration) Latencies {
	s := slices.Clone(samples)
	slices.Sort(s)
	l := Latencies{N: len(s), Errors: errors}
	if len(s) == 0 {
		return l
	}
	l.P50, l.P90, l.P99 = Percentile(s, 50), Percentile(s, 90), Percentile(s, 99)
	l.Max = s[len(s)-1]
	if wall > 0 {
		l.PerSecond = float64(len(s)) / wall.Seconds()
	}
	return l
}

// Percentile is the nearest-rank p-th percentile of sorted samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Median of unsorted values.
func Median[T int64 | float64 | time.Duration](values []T) T {
	if len(values) == 0 {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
