package webhook

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// DefaultSchedule is the wait after each failed attempt before the next one:
// 15 attempts over about 3 days 4 hours (each wait shortened by up to 20%
// jitter). Every step fits one SQS visibility change (at most 12 hours).
var DefaultSchedule = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour,
	12 * time.Hour, 12 * time.Hour, 12 * time.Hour, 12 * time.Hour, 12 * time.Hour,
}

// MaxStep is the longest wait one step can have: SQS hides a received message
// for at most 12 hours, less the time the attempt itself took.
const MaxStep = 12*time.Hour - time.Minute

// DefaultAttemptTimeout bounds one attempt: a 2xx within it is a success.
const DefaultAttemptTimeout = 10 * time.Second

// DefaultClientErrorAttempts is how many attempts a delivery gets while the
// receiver keeps refusing it with a 4xx (other than 408, 410 and 429): such
// an answer rarely heals by itself, but a receiver being redeployed may give
// one briefly.
const DefaultClientErrorAttempts = 3

// RetryPolicy decides what follows an attempt.
type RetryPolicy struct {
	// Schedule is the wait after attempt n (Schedule[n-1]); its length + 1 is
	// the number of attempts.
	Schedule []time.Duration
	// ClientErrorAttempts bounds the attempts of a delivery refused with 4xx.
	ClientErrorAttempts int
	// Jitter shortens each wait by a random fraction up to this much, so
	// deliveries that failed together do not all come back together.
	Jitter float64
}

// DefaultRetryPolicy is the production policy.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Schedule: DefaultSchedule, ClientErrorAttempts: DefaultClientErrorAttempts, Jitter: 0.2}
}

// ParseSchedule reads a comma-separated list of Go durations ("5s,30s,2m").
func ParseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for part := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("retry schedule: %w", err)
		}
		if d < time.Second || d > 12*time.Hour {
			return nil, fmt.Errorf("retry schedule: each step must be between 1s and 12h, got %v", d)
		}
		out = append(out, d)
	}
	return out, nil
}

// MaxAttempts is the number of attempts of a delivery that keeps failing.
func (p RetryPolicy) MaxAttempts() int { return len(p.Schedule) + 1 }

// Total is the longest time from the first attempt to the last one.
func (p RetryPolicy) Total() time.Duration {
	var t time.Duration
	for _, d := range p.Schedule {
		t += d
	}
	return t
}

// Verdict is what an attempt's answer means.
type Verdict int

const (
	// Delivered: a 2xx in time.
	Delivered Verdict = iota
	// Retry: a timeout, a connection error, 5xx, 408 or 429; retried on schedule.
	Retry
	// Refused: another 4xx or a 3xx; retried a few times, then given up.
	Refused
	// Gone: 410; the endpoint is disabled and the delivery cancelled.
	Gone
)

// Answer is what one attempt got.
type Answer struct {
	// Status is the HTTP status, 0 when there was no response.
	Status int
	// Err describes a failure without a response (timeout, refused
	// connection, TLS, egress policy); never a response body.
	Err error
	// RetryAfter is the receiver's Retry-After, when it gave one.
	RetryAfter time.Duration
}

// Verdict classifies the answer.
func (a Answer) Verdict() Verdict {
	switch {
	case a.Err != nil:
		if errors.Is(a.Err, egress.ErrRefused) {
			return Refused
		}
		return Retry
	case a.Status >= 200 && a.Status < 300:
		return Delivered
	case a.Status == http.StatusGone:
		return Gone
	case a.Status == http.StatusTooManyRequests, a.Status == http.StatusRequestTimeout, a.Status >= 500:
		return Retry
	default:
		return Refused
	}
}

// Next decides, after failed attempt number attempt, whether another one
// follows and after how long.
func (p RetryPolicy) Next(attempt int, a Answer) (wait time.Duration, again bool) {
	switch a.Verdict() {
	case Delivered, Gone:
		return 0, false
	case Refused:
		if attempt >= min(p.ClientErrorAttempts, p.MaxAttempts()) {
			return 0, false
		}
	default:
		if attempt >= p.MaxAttempts() {
			return 0, false
		}
	}
	wait = p.Schedule[attempt-1]
	if p.Jitter > 0 {
		wait -= time.Duration(rand.Float64() * p.Jitter * float64(wait))
	}
	// Retry-After is honoured: never earlier than the receiver asked.
	wait = max(wait, a.RetryAfter)
	return min(wait, MaxStep), true
}

// ParseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return min(time.Duration(secs)*time.Second, MaxStep)
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return min(at.Sub(now), MaxStep)
	}
	return 0
}
