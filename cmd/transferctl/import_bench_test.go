package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkImport100k imports 100,000 purchases of 50,000 customers, each
// purchase named by its originalTransactionId and one more transactionId
// (250,000 items: customers, purchases, and one transaction→chain mapping a
// purchase), into DynamoDB Local started as `make run` starts it. One at a
// time (both in one run share one DynamoDB Local, the second after the
// first's items):
//
//	go test -run '^$' -bench 'Import100k$' -benchtime 1x ./cmd/transferctl/
//	go test -run '^$' -bench Import100kSingle -benchtime 1x ./cmd/transferctl/
func BenchmarkImport100k(b *testing.B) { benchmarkImport(b, 1) }

// BenchmarkImport100kSingle is the same with each purchase named only by
// its originalTransactionId (one-off purchases, new subscriptions): 150,000
// items, no mappings.
func BenchmarkImport100kSingle(b *testing.B) { benchmarkImport(b, 0) }

func benchmarkImport(b *testing.B, moreTxs int) {
	const purchases = 100_000
	f := newFixture(b)
	path := filepath.Join(b.TempDir(), "purchases.jsonl")
	if err := writeBenchFile(path, purchases, moreTxs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id, _ := f.createPublisher()
		b.StartTimer()
		started := time.Now()
		r := f.ctl("import", "--publisher", fmt.Sprint(id), path)
		took := time.Since(started)
		if r.code != exitOK {
			b.Fatalf("import: %v", r)
		}
		b.ReportMetric(purchases/took.Seconds(), "purchases/s")
		b.Logf("%d purchases in %.1fs\n%s", purchases, took.Seconds(), r.stdout)
	}
}

// writeBenchFile writes purchases of purchases/2 customers (two each), each
// named by its originalTransactionId and moreTxs more transactionIds.
func writeBenchFile(path string, purchases, moreTxs int) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(file)
	for i := range purchases {
		txs := make([]string, moreTxs)
		for j := range txs {
			txs[j] = fmt.Sprintf(`"7%015d"`, i+(j+1)*500_000)
		}
		fmt.Fprintf(w, `{"type":"purchase","cleengCustomerId":%d,"originalTransactionId":"7%015d","transactionIds":[%s],"offerId":"S123456789_US","productId":"com.example.premium.monthly","kind":"auto-renewable","state":"active","expiresAt":"2036-01-31T00:00:00Z"}`+"\n",
			600_000_000+i/2, i, strings.Join(txs, ","))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return file.Close()
}
