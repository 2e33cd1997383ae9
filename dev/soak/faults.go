package soak

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Faults are the probabilities (0 = off, 1 = every time) of each fault the
// soak injects into the service under test. Transport faults apply to every
// request the service's SDK clients send; message faults to every queue
// message its consumers receive.
type Faults struct {
	// PreSend fails a request before it is sent (a refused connection).
	PreSend float64 `json:"preSend"`
	// Ambiguous forwards a TransactWriteItems or SendMessage, lets it
	// commit, and drops the answer (a reset connection): the caller cannot
	// tell whether it happened.
	Ambiguous float64 `json:"ambiguous"`
	// Throttle answers a throttling error without sending the request.
	Throttle float64 `json:"throttle"`
	// Conflict answers a TransactWriteItems with TransactionCanceledException
	// (TransactionConflict) without sending it.
	Conflict float64 `json:"conflict"`
	// Latency delays a request by up to MaxLatency before sending it.
	Latency    float64       `json:"latency"`
	MaxLatency time.Duration `json:"maxLatency"`
	// Duplicate hands a received message to its handler a second time.
	Duplicate float64 `json:"duplicate"`
	// Late sends a copy of a received message back to its queue, delayed
	// by 1-5 s: a late duplicate, out of order with what came meanwhile.
	Late float64 `json:"late"`
	// Reorder shuffles the messages of a batch before they are handled.
	Reorder float64 `json:"reorder"`
}

// DefaultFaults is what `make soak` injects: every kind, often enough to
// fire hundreds of times in a short run, rarely enough that the SDK's three
// attempts mostly get through.
func DefaultFaults() Faults {
	return Faults{PreSend: 0.01, Ambiguous: 0.02, Throttle: 0.01, Conflict: 0.02, Latency: 0.05, MaxLatency: 300 * time.Millisecond,
		Duplicate: 0.05, Late: 0.03, Reorder: 0.2}
}

// Fault kinds, as counted and reported.
const (
	FaultPreSend   = "transport: error before sending"
	FaultAmbiguous = "transport: ambiguous (committed, answer lost)"
	FaultThrottle  = "transport: throttling"
	FaultConflict  = "transport: TransactionConflict"
	FaultLatency   = "transport: added latency"
	FaultDuplicate = "queue: duplicate delivery"
	FaultLate      = "queue: late copy"
	FaultReorder   = "queue: reordered batch"
	FaultKill      = "process: SIGKILL"
	FaultStall     = "emulator: SIGSTOP/SIGCONT"
)

// Tally counts events by kind, safe for concurrent use. OnAdd, when set, is
// told of each (a consumer process reports its faults to the soak with it).
type Tally struct {
	mu     sync.Mutex
	counts map[string]int
	OnAdd  func(kind string)
}

// NewTally is an empty Tally.
func NewTally() *Tally { return &Tally{counts: map[string]int{}} }

// Add counts one event of kind.
func (t *Tally) Add(kind string) {
	t.mu.Lock()
	t.counts[kind]++
	on := t.OnAdd
	t.mu.Unlock()
	if on != nil {
		on(kind)
	}
}

// Counts is a copy of the counts.
func (t *Tally) Counts() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.counts))
	for k, v := range t.counts {
		out[k] = v
	}
	return out
}

// Injector decides and counts faults; Heal turns them all off (the soak
// heals before it drains and checks).
type Injector struct {
	Faults Faults
	Tally  *Tally
	// Meter, when set, counts every round trip that reaches the emulators
	// and its duration (an injected fault's is not one).
	Meter  *Meter
	healed atomic.Bool
	mu     sync.Mutex
	rnd    *rand.Rand
}

// NewInjector injects f, counting into t.
func NewInjector(f Faults, t *Tally, seed uint64) *Injector {
	return &Injector{Faults: f, Tally: t, rnd: rand.New(rand.NewPCG(seed, seed^0x5eed))}
}

// Heal stops every fault from now on.
func (in *Injector) Heal() { in.healed.Store(true) }

// fire reports whether a fault of probability p happens now, counting it.
func (in *Injector) fire(p float64, kind string) bool {
	if p <= 0 || in.healed.Load() {
		return false
	}
	in.mu.Lock()
	hit := in.rnd.Float64() < p
	in.mu.Unlock()
	if hit {
		in.Tally.Add(kind)
	}
	return hit
}

func (in *Injector) intN(n int) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.rnd.IntN(n)
}

// Transport is the http.RoundTripper of the service's SDK clients, with
// faults: http.Client{Transport: in.Transport(base)} is an aws.HTTPClient.
func (in *Injector) Transport(base http.RoundTripper) http.RoundTripper {
	return &faultyTransport{in: in, base: base}
}

type faultyTransport struct {
	in   *Injector
	base http.RoundTripper
}

// The SDK treats any error of its HTTP client as a connection error and
// retries it (up to 3 attempts), as it would a real one.
var (
	errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	errReset   = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
)

func (t *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	op := req.Header.Get("X-Amz-Target")
	if _, after, ok := strings.Cut(op, "."); ok {
		op = after
	}
	f := t.in.Faults
	if t.in.fire(f.Latency, FaultLatency) && f.MaxLatency > 0 {
		select {
		case <-time.After(time.Duration(t.in.intN(int(f.MaxLatency)) + 1)):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	if t.in.fire(f.PreSend, FaultPreSend) {
		drain(req)
		return nil, fmt.Errorf("soak: injected: %w", errRefused)
	}
	if t.in.fire(f.Throttle, FaultThrottle) {
		drain(req)
		return errorAnswer(req, throttleType(req)), nil
	}
	if op == "TransactWriteItems" && t.in.fire(f.Conflict, FaultConflict) {
		return conflictAnswer(req)
	}
	sent := time.Now()
	resp, err := t.base.RoundTrip(req)
	t.in.Meter.Observe(roundTripName(req), time.Since(sent))
	if err != nil {
		return resp, err
	}
	if (op == "TransactWriteItems" || op == "SendMessage") && resp.StatusCode == http.StatusOK && t.in.fire(f.Ambiguous, FaultAmbiguous) {
		// It committed; the caller never learns it.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("soak: injected: %w", errReset)
	}
	return resp, nil
}

// roundTripName is "dynamodb UpdateItem", "sqs ReceiveMessage", or the
// request's host and path for anything else (Secrets Manager is read once).
func roundTripName(req *http.Request) string {
	service, op, ok := strings.Cut(req.Header.Get("X-Amz-Target"), ".")
	switch {
	case !ok:
		return "other " + req.URL.Path
	case strings.HasPrefix(service, "DynamoDB"):
		return "dynamodb " + op
	case service == "AmazonSQS":
		return "sqs " + op
	}
	return strings.ToLower(service) + " " + op
}

func drain(req *http.Request) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
}

// throttleType is the throttling error of the request's service (AWS JSON
// protocols name the error in __type).
func throttleType(req *http.Request) string {
	if strings.HasPrefix(req.Header.Get("X-Amz-Target"), "AmazonSQS.") {
		return "com.amazonaws.sqs#ThrottlingException"
	}
	return "com.amazonaws.dynamodb.v20120810#ThrottlingException"
}

func errorAnswer(req *http.Request, errType string) *http.Response {
	return jsonAnswer(req, http.StatusBadRequest, map[string]any{"__type": errType, "message": "soak: injected"})
}

func jsonAnswer(req *http.Request, status int, body any) *http.Response {
	b, _ := json.Marshal(body)
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"soak-injected"}},
		Body:   io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req,
	}
}

// conflictAnswer is DynamoDB's answer to a transaction that collided with
// another: one cancellation reason per item, the first TransactionConflict.
func conflictAnswer(req *http.Request) (*http.Response, error) {
	var in struct{ TransactItems []json.RawMessage }
	if req.Body == nil {
		return nil, errors.New("soak: a TransactWriteItems without a body")
	}
	raw, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("soak: read TransactWriteItems: %w", err)
	}
	reasons := make([]map[string]string, max(len(in.TransactItems), 1))
	for i := range reasons {
		reasons[i] = map[string]string{"Code": "None"}
	}
	reasons[0] = map[string]string{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
	return jsonAnswer(req, http.StatusBadRequest, map[string]any{
		"__type":              "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
		"Message":             "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
		"CancellationReasons": reasons,
	}), nil
}
