package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/metrics"
)

var at = time.Date(2026, 11, 26, 3, 4, 5, 6_000_000, time.UTC)

func emitter(buf *bytes.Buffer) *metrics.Emitter {
	return metrics.New(buf, "processor").WithClock(func() time.Time { return at })
}

func decode(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.SplitSeq(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not one JSON object per line: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestOneLineWithTwoDirectives(t *testing.T) {
	var buf bytes.Buffer
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	emitter(&buf).Emit(ctx, []metrics.Property{{Key: "synchronizationId", Value: "S1"}},
		metrics.Value{Name: "Finalized", Unit: metrics.Count, Value: 1, Dimension: metrics.Dimension{Name: "Result", Value: "TRANSFER_FAILED"}},
		metrics.Value{Name: "AcceptToFinalized", Unit: metrics.Milliseconds, Value: 12.5},
	)
	lines := decode(t, &buf)
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1: %s", len(lines), buf.String())
	}
	got := lines[0]
	for k, want := range map[string]any{"Function": "processor", "Result": "TRANSFER_FAILED", "Finalized": 1.0,
		"AcceptToFinalized": 12.5, "requestId": "req-1", "synchronizationId": "S1"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	var meta struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	if err := json.Unmarshal(buf.Bytes(), &meta); err != nil {
		t.Fatal(err)
	}
	if meta.AWS.Timestamp != at.UnixMilli() {
		t.Errorf("Timestamp %d, want %d", meta.AWS.Timestamp, at.UnixMilli())
	}
	ds := meta.AWS.CloudWatchMetrics
	if len(ds) != 2 {
		t.Fatalf("%d directives, want 2", len(ds))
	}
	want := []struct{ dims, name, unit string }{
		{"Function,Result", "Finalized", "Count"},
		{"Function", "AcceptToFinalized", "Milliseconds"},
	}
	for i, w := range want {
		d := ds[i]
		if d.Namespace != metrics.Namespace || len(d.Dimensions) != 1 || strings.Join(d.Dimensions[0], ",") != w.dims ||
			len(d.Metrics) != 1 || d.Metrics[0].Name != w.name || d.Metrics[0].Unit != w.unit {
			t.Errorf("directive %d = %+v, want %+v", i, d, w)
		}
	}
}

func TestConflictingDimensionValuesSplitLines(t *testing.T) {
	var buf bytes.Buffer
	emitter(&buf).Emit(context.Background(), nil,
		metrics.Value{Name: "Refused", Unit: metrics.Count, Value: 1, Dimension: metrics.Dimension{Name: "Code", Value: "A"}},
		metrics.Value{Name: "Other", Unit: metrics.Count, Value: 1, Dimension: metrics.Dimension{Name: "Code", Value: "B"}},
		metrics.Value{Name: "Refused", Unit: metrics.Count, Value: 2, Dimension: metrics.Dimension{Name: "Code", Value: "A"}},
	)
	lines := decode(t, &buf)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (a second value of one name, another code): %s", len(lines), buf.String())
	}
	if lines[0]["Code"] != "A" || lines[1]["Code"] != "B" || lines[2]["Refused"] != 2.0 {
		t.Errorf("lines: %v", lines)
	}
	if _, ok := lines[0]["requestId"]; ok {
		t.Error("requestId without a Lambda context")
	}
}

func TestNilEmitterWritesNothing(t *testing.T) {
	var e *metrics.Emitter
	e.Count(context.Background(), "X", 1, metrics.Dimension{})
	if e.Function() != "" {
		t.Error("a nil emitter has a function")
	}
}

func TestLambdaUsesTheFunctionName(t *testing.T) {
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "stack-TransferFunction-ABC")
	if got := metrics.Lambda("transfer").Function(); got != "stack-TransferFunction-ABC" {
		t.Errorf("Function %q", got)
	}
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "")
	if got := metrics.Lambda("transfer").Function(); got != "transfer" {
		t.Errorf("Function %q without AWS_LAMBDA_FUNCTION_NAME", got)
	}
}

// Lines written concurrently never interleave.
func TestConcurrentLinesStayWhole(t *testing.T) {
	var buf bytes.Buffer
	e := emitter(&buf)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			e.Count(context.Background(), "WebhookAttempts", 1, metrics.Dimension{}, metrics.Property{Key: "eventId", Value: strings.Repeat("x", 300)})
		})
	}
	wg.Wait()
	if n := len(decode(t, &buf)); n != 50 {
		t.Errorf("%d lines, want 50", n)
	}
}
