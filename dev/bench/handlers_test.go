package bench_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/acme/purchase-transfer/dev/bench"
	"github.com/acme/purchase-transfer/internal/directorycache"
)

// The benchmarks of the docs/design.md budget B4, "handler CPU on top of I/O:
// transfer and status < 100 µs per request in-process", from the inside out:
//
//	ports       HTTP + validation + auth + domain rules, over in-memory ports
//	adapters    + the DynamoDB/SQS adapters (attributevalue, expression
//	            builders, lookup cache) over fakes of the SDK's interfaces
//	lambda-sdk  the Lambda handler exactly as the mains wire it: API Gateway
//	            event → proxy adapter → handler → real SDK clients (endpoint
//	            resolution, JSON, SigV4, checksums), answered in process
//
// "warm" has the container's caches filled (credentials, publisher, chain:
// 2 AWS calls per transfer); "nocache" reads them every time (AUTH_CACHE_TTL
// 0, 3 calls), the cost of a cold container's first request minus its init.
//
// Besides ns/op (wall time of one goroutine), each reports cpu-ns/op: the
// process's CPU time per operation on all threads, garbage collection
// included, which is what a Lambda's CPU share pays for.
//
// Run: go test -run '^$' -bench . -benchmem ./dev/bench/

const warm = directorycache.DefaultTTL

// measure runs op in the benchmark loop and reports allocations and CPU.
func measure(b *testing.B, op func()) {
	b.Helper()
	b.ReportAllocs()
	var start time.Duration
	n := 0
	for b.Loop() {
		if n == 0 {
			start = bench.ProcessCPU()
		}
		op()
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(bench.ProcessCPU()-start)/float64(n), "cpu-ns/op")
	}
}

func serve(b *testing.B, h http.Handler, req func() *http.Request, want int) {
	b.Helper()
	measure(b, func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req())
		if w.Code != want {
			b.Fatalf("status %d, want %d: %s", w.Code, want, w.Body)
		}
	})
}

func invoke(b *testing.B, h lambdaHTTP, event events.APIGatewayV2HTTPRequest, want int) {
	b.Helper()
	measure(b, func() {
		resp, err := h(context.Background(), event)
		if err != nil || resp.StatusCode != want {
			b.Fatalf("status %d, want %d, %v: %s", resp.StatusCode, want, err, resp.Body)
		}
	})
}

var cacheLevels = []struct {
	name string
	ttl  time.Duration
}{{"warm", warm}, {"nocache", 0}}

func BenchmarkTransfer(b *testing.B) {
	f := newFixture(b)
	b.Run("ports", func(b *testing.B) {
		h, _ := f.portsHandlers()
		serve(b, h, f.transferRequest, http.StatusAccepted)
	})
	b.Run("ports-jwt", func(b *testing.B) {
		h, _ := f.portsHandlers()
		serve(b, h, func() *http.Request {
			r := f.transferRequest()
			r.Header.Del("X-Publisher-Token")
			r.Header.Set("Authorization", "Bearer "+f.jwt)
			return r
		}, http.StatusAccepted)
	})
	for _, c := range cacheLevels {
		b.Run("adapters-"+c.name, func(b *testing.B) {
			h, _, _ := f.adapterHandlers(c.ttl)
			serve(b, h, f.transferRequest, http.StatusAccepted)
		})
	}
	for _, c := range cacheLevels {
		b.Run("lambda-sdk-"+c.name, func(b *testing.B) {
			h, _ := f.lambdaHandlers(c.ttl)
			invoke(b, h, f.transferEvent(), http.StatusAccepted)
		})
	}
}

func BenchmarkStatus(b *testing.B) {
	f := newFixture(b)
	b.Run("ports", func(b *testing.B) {
		_, h := f.portsHandlers()
		serve(b, h, f.statusRequest, http.StatusOK)
	})
	for _, c := range cacheLevels {
		b.Run("adapters-"+c.name, func(b *testing.B) {
			_, h, _ := f.adapterHandlers(c.ttl)
			serve(b, h, f.statusRequest, http.StatusOK)
		})
	}
	for _, c := range cacheLevels {
		b.Run("lambda-sdk-"+c.name, func(b *testing.B) {
			_, h := f.lambdaHandlers(c.ttl)
			invoke(b, h, f.statusEvent(), http.StatusOK)
		})
	}
}

// BenchmarkProcessor is one delivery of a job that transfers the purchase:
// Load (one BatchGetItem: the record with what its hint names), Decide, Finalize (one TransactWriteItems of six
// items: record, purchase, history, customer, two lock releases).
func BenchmarkProcessor(b *testing.B) {
	f := newFixture(b)
	b.Run("adapters", func(b *testing.B) {
		_, _, proc := f.adapterHandlers(warm)
		measure(b, func() {
			if err := proc.Handle(context.Background(), f.job, 1); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("lambda-sdk", func(b *testing.B) {
		svc, _ := f.sdkService(warm)
		h := svc.ProcessorBatchHandler()
		event := sqsEvent(b, f.job)
		measure(b, func() {
			resp, err := h(context.Background(), event)
			if err != nil || len(resp.BatchItemFailures) > 0 {
				b.Fatalf("%v %+v", err, resp)
			}
		})
	})
}

// BenchmarkSDKCall is one call of the SDK clients with inputs shaped like
// ours, answered in process: the SDK's own cost per round trip, to tell it
// from ours in the benchmarks above.
func BenchmarkSDKCall(b *testing.B) {
	f := newFixture(b)
	_, clients := f.sdkService(warm)
	in := f.sdkInputs()
	ctx := context.Background()
	b.Run("GetItem", func(b *testing.B) {
		measure(b, func() {
			if _, err := clients.DynamoDB.GetItem(ctx, in.getItem); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("TransactWriteItems", func(b *testing.B) {
		measure(b, func() {
			if _, err := clients.DynamoDB.TransactWriteItems(ctx, in.transact); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("SendMessage", func(b *testing.B) {
		measure(b, func() {
			if _, err := clients.SQS.SendMessage(ctx, in.send); err != nil {
				b.Fatal(err)
			}
		})
	})
}
