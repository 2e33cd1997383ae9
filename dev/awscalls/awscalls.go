// Package awscalls records the AWS requests an SDK client makes, as the IAM
// authorizations they need: an aws.HTTPClient that parses each request
// (service and operation from X-Amz-Target, resources from the JSON body)
// into the action and resource IAM checks, e.g. a TransactWriteItems into
// one dynamodb:PutItem, dynamodb:DeleteItem, … per item. The IAM test
// drives each function through its paths with clients recording under the
// function's name, then holds the calls to the template's grants.
package awscalls

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Call is one authorization a request needs: an IAM action
// ("dynamodb:GetItem") on a resource as the request names it (a table
// name, "table/index/name", a queue URL, a secret id).
type Call struct {
	Action   string
	Resource string
}

func (c Call) String() string { return c.Action + " on " + c.Resource }

// Recorder keeps the calls made through its clients, by function.
type Recorder struct {
	mu    sync.Mutex
	calls map[string]map[Call]int
	// unknown are requests that could not be parsed, as text.
	unknown map[string][]string
}

// NewRecorder is an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{calls: map[string]map[Call]int{}, unknown: map[string][]string{}}
}

// Client is an aws.HTTPClient, over the SDK's default one, that records
// the requests through it as made by function.
func (r *Recorder) Client(function string) aws.HTTPClient {
	return &client{inner: awshttp.NewBuildableClient(), rec: r, function: function}
}

// Calls are the distinct calls function made, sorted.
func (r *Recorder) Calls(function string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Call, 0, len(r.calls[function]))
	for c := range r.calls[function] {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Call) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Unparsed are the requests of function that named no action or resource.
func (r *Recorder) Unparsed(function string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.unknown[function])
}

func (r *Recorder) record(function string, calls []Call, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.unknown[function] = append(r.unknown[function], err.Error())
		return
	}
	if r.calls[function] == nil {
		r.calls[function] = map[Call]int{}
	}
	for _, c := range calls {
		r.calls[function][c]++
	}
}

type client struct {
	inner    aws.HTTPClient
	rec      *Recorder
	function string
}

func (c *client) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	calls, err := Parse(req.Header.Get("X-Amz-Target"), body)
	c.rec.record(c.function, calls, err)
	return c.inner.Do(req)
}

// Parse turns one request of the AWS JSON protocol (its X-Amz-Target and
// body) into the calls IAM authorizes.
func Parse(target string, body []byte) ([]Call, error) {
	prefix, op, ok := strings.Cut(target, ".")
	if !ok {
		return nil, fmt.Errorf("no X-Amz-Target %q: not a JSON-protocol request", target)
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("%s: body is not a JSON object: %w", target, err)
	}
	switch {
	case strings.HasPrefix(prefix, "DynamoDB_"):
		return dynamoCalls(op, in)
	case prefix == "AmazonSQS":
		return sqsCalls(op, in)
	}
	// Other services (Secrets Manager: "secretsmanager.GetSecretValue"
	// with a SecretId) name their resource in a field of their own.
	service := strings.ToLower(prefix)
	for _, field := range []string{"SecretId", "Name", "Arn", "ResourceArn"} {
		if v := str(in[field]); v != "" {
			return []Call{{service + ":" + op, v}}, nil
		}
	}
	return nil, fmt.Errorf("%s: no resource field known", target)
}

func dynamoCalls(op string, in map[string]json.RawMessage) ([]Call, error) {
	action := "dynamodb:" + op
	switch op {
	case "BatchGetItem", "BatchWriteItem":
		var items map[string]json.RawMessage
		if err := json.Unmarshal(in["RequestItems"], &items); err != nil || len(items) == 0 {
			return nil, fmt.Errorf("dynamodb %s: no RequestItems", op)
		}
		var out []Call
		for table := range items {
			out = append(out, Call{action, table})
		}
		return out, nil
	case "TransactWriteItems", "TransactGetItems":
		// Authorized per item: Put → PutItem, Get → GetItem, …
		var items []map[string]struct{ TableName string }
		if err := json.Unmarshal(in["TransactItems"], &items); err != nil || len(items) == 0 {
			return nil, fmt.Errorf("dynamodb %s: no TransactItems", op)
		}
		var out []Call
		for _, item := range items {
			for kind, v := range item {
				out = append(out, Call{"dynamodb:" + kind + "Item", v.TableName})
			}
		}
		return out, nil
	}
	table := str(in["TableName"])
	if table == "" {
		return nil, fmt.Errorf("dynamodb %s: no TableName", op)
	}
	if index := str(in["IndexName"]); index != "" {
		table += "/index/" + index
	}
	return []Call{{action, table}}, nil
}

func sqsCalls(op string, in map[string]json.RawMessage) ([]Call, error) {
	queue := str(in["QueueUrl"])
	if queue == "" {
		return nil, fmt.Errorf("sqs %s: no QueueUrl", op)
	}
	// A batch is authorized as its single action.
	return []Call{{"sqs:" + strings.TrimSuffix(op, "Batch"), queue}}, nil
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}
