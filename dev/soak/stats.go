package soak

import (
	"sync"
	"time"
)

// stats are the workload's counts: answers by operation and code, their
// latencies, and the violations seen on the way (the checker adds its own).
type stats struct {
	mu         sync.Mutex
	answers    map[string]map[string]int // op → "202", "409 SK2C0103", "error"
	latencies  map[string][]time.Duration
	violations map[string][]string // kind → examples
}

func newStats() *stats {
	return &stats{answers: map[string]map[string]int{}, latencies: map[string][]time.Duration{}, violations: map[string][]string{}}
}

func (s *stats) answer(op, code string, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answers[op] == nil {
		s.answers[op] = map[string]int{}
	}
	s.answers[op][code]++
	if took > 0 {
		s.latencies[op] = append(s.latencies[op], took)
	}
}

// violation records one, keeping the first few examples of each kind.
func (s *stats) violation(kind, example string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations[kind] = append(s.violations[kind], example)
}
