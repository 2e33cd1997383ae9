package bench

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Counter is an aws.HTTPClient that counts the requests passing through it
// by operation (the X-Amz-Target header, e.g. "TransactWriteItems"), retries
// included: each is one round trip to AWS.
type Counter struct {
	Inner aws.HTTPClient

	mu     sync.Mutex
	counts map[string]int
}

// NewCounter counts the requests of the SDK's default HTTP client.
func NewCounter() *Counter {
	return &Counter{Inner: awshttp.NewBuildableClient(), counts: map[string]int{}}
}

// Do implements aws.HTTPClient.
func (c *Counter) Do(req *http.Request) (*http.Response, error) {
	op := req.Header.Get("X-Amz-Target")
	if _, after, ok := strings.Cut(op, "."); ok {
		op = after
	}
	if op == "" {
		op = req.Method + " " + req.URL.Path
	}
	c.mu.Lock()
	c.counts[op]++
	c.mu.Unlock()
	return c.Inner.Do(req)
}

// Take returns the counts since the last Take and starts again from zero.
func (c *Counter) Take() RoundTrips {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := RoundTrips(c.counts)
	c.counts = map[string]int{}
	return out
}

// RoundTrips are requests by operation.
type RoundTrips map[string]int

// Total is the number of requests.
func (r RoundTrips) Total() int {
	n := 0
	for _, v := range r {
		n += v
	}
	return n
}

// String lists the operations, e.g. "BatchGetItem + TransactWriteItems + SendMessage".
func (r RoundTrips) String() string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(r)) {
		if r[op] == 1 {
			parts = append(parts, op)
		} else {
			parts = append(parts, op+"×"+strconv.Itoa(r[op]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}
