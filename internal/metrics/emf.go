// Package metrics writes CloudWatch Embedded Metric Format (EMF) lines: JSON
// objects on standard output, one per line, from which CloudWatch Logs
// extracts metrics. A Lambda's standard output already goes to its log
// group, so a metric costs no API call, no permission and no latency on the
// request's path: only the bytes of its line.
//
// Every metric is dimensioned by Function (the function's name in AWS) and by
// at most one more low-cardinality dimension (an error code, a result, an
// outcome). Ids such as requestId, synchronizationId and publisherId travel
// in the same line as plain properties: searchable with Logs Insights, never
// dimensions (a dimension value is a metric of its own, billed monthly).
//
// The format: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package metrics

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Namespace is the CloudWatch namespace of every metric of the service.
const Namespace = "PurchaseTransfer"

// FunctionDimension is the dimension every metric carries.
const FunctionDimension = "Function"

// Unit is a CloudWatch unit.
type Unit string

const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
)

// Dimension is a dimension beyond Function.
type Dimension struct {
	Name, Value string
}

// Value is one value of one metric.
type Value struct {
	Name  string
	Unit  Unit
	Value float64
	// Dimension, when its Name is set, is the metric's second dimension.
	Dimension Dimension
}

// Property is a field of the line that is no metric nor dimension: an id to
// find the line by.
type Property struct {
	Key   string
	Value any
}

// Emitter writes EMF lines for one function. A nil *Emitter writes nothing,
// so that wiring without metrics needs no special case.
type Emitter struct {
	mu       sync.Mutex
	w        io.Writer
	function string
	now      func() time.Time
}

// New writes lines to w, dimensioned Function=function.
func New(w io.Writer, function string) *Emitter {
	return &Emitter{w: w, function: function, now: time.Now}
}

// Lambda writes lines to standard output, dimensioned by the function's name
// in AWS (AWS_LAMBDA_FUNCTION_NAME, unique per stack, so two stacks in one
// account never mix), or by name where that is not set.
func Lambda(name string) *Emitter {
	if fn := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); fn != "" {
		name = fn
	}
	return New(os.Stdout, name)
}

// WithClock replaces time.Now for the lines' timestamps (tests).
func (e *Emitter) WithClock(now func() time.Time) *Emitter {
	if e != nil {
		e.now = now
	}
	return e
}

// Function is the value of the Function dimension.
func (e *Emitter) Function() string {
	if e == nil {
		return ""
	}
	return e.function
}

// Emit writes values, with props and the request id of ctx, in as few lines
// as EMF allows: one, unless two values need different values of one
// dimension.
func (e *Emitter) Emit(ctx context.Context, props []Property, values ...Value) {
	if e == nil || len(values) == 0 {
		return
	}
	ts := e.now().UnixMilli()
	var lines []*line
	for _, v := range values {
		placed := false
		for _, l := range lines {
			if l.fits(v) {
				l.add(v)
				placed = true
				break
			}
		}
		if !placed {
			l := newLine(e.function)
			l.add(v)
			lines = append(lines, l)
		}
	}
	buf := make([]byte, 0, 512*len(lines))
	for _, l := range lines {
		b, err := l.marshal(ts, props, requestID(ctx))
		if err != nil {
			slog.WarnContext(ctx, "metrics: cannot encode a line", "error", err)
			return
		}
		buf = append(append(buf, b...), '\n')
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(buf) // standard output: nothing to do if it fails
}

// Count writes one Count value of 1 (or n).
func (e *Emitter) Count(ctx context.Context, name string, n float64, dim Dimension, props ...Property) {
	e.Emit(ctx, props, Value{Name: name, Unit: Count, Value: n, Dimension: dim})
}

func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// line is one EMF object being built.
type line struct {
	dims       map[string]string // root dimension values, Function included
	metrics    map[string]Value
	directives []*directive
}

type directive struct {
	dimensions []string
	metrics    []Value
}

func newLine(function string) *line {
	return &line{dims: map[string]string{FunctionDimension: function}, metrics: map[string]Value{}}
}

// fits tells whether v can join the line: its name is new there and its
// dimension does not need another value of a dimension the line has.
func (l *line) fits(v Value) bool {
	if _, dup := l.metrics[v.Name]; dup {
		return false
	}
	if v.Dimension.Name == "" {
		return true
	}
	have, ok := l.dims[v.Dimension.Name]
	return !ok || have == v.Dimension.Value
}

func (l *line) add(v Value) {
	names := []string{FunctionDimension}
	if v.Dimension.Name != "" {
		l.dims[v.Dimension.Name] = v.Dimension.Value
		names = append(names, v.Dimension.Name)
	}
	l.metrics[v.Name] = v
	for _, d := range l.directives {
		if equal(d.dimensions, names) {
			d.metrics = append(d.metrics, v)
			return
		}
	}
	l.directives = append(l.directives, &directive{dimensions: names, metrics: []Value{v}})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The JSON of the "_aws" member.
type (
	awsMeta struct {
		Timestamp         int64          `json:"Timestamp"`
		CloudWatchMetrics []metricsBlock `json:"CloudWatchMetrics"`
	}
	metricsBlock struct {
		Namespace  string       `json:"Namespace"`
		Dimensions [][]string   `json:"Dimensions"`
		Metrics    []metricDecl `json:"Metrics"`
	}
	metricDecl struct {
		Name string `json:"Name"`
		Unit Unit   `json:"Unit,omitempty"`
	}
)

func (l *line) marshal(ts int64, props []Property, requestID string) ([]byte, error) {
	root := make(map[string]any, 2+len(l.dims)+len(l.metrics)+len(props))
	// Properties first, so that a dimension or a metric of the same name wins.
	if requestID != "" {
		root["requestId"] = requestID
	}
	for _, p := range props {
		root[p.Key] = p.Value
	}
	meta := awsMeta{Timestamp: ts}
	for _, d := range l.directives {
		b := metricsBlock{Namespace: Namespace, Dimensions: [][]string{d.dimensions}}
		for _, v := range d.metrics {
			b.Metrics = append(b.Metrics, metricDecl{Name: v.Name, Unit: v.Unit})
		}
		meta.CloudWatchMetrics = append(meta.CloudWatchMetrics, b)
	}
	for k, v := range l.dims {
		root[k] = v
	}
	for k, v := range l.metrics {
		root[k] = v.Value
	}
	root["_aws"] = meta
	return json.Marshal(root)
}
