package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkImport100k imports 100,000 purchases of 50,000 customers, each
// purchase named by two transactionIds (350,000 items), into DynamoDB Local
// started as `make run` starts it:
//
//	go test -run '^$' -bench Import100k -benchtime 1x ./cmd/transferctl/
func BenchmarkImport100k(b *testing.B) {
	const purchases = 100_000
	f := newFixture(b)
	path := filepath.Join(b.TempDir(), "purchases.jsonl")
	if err := writeBenchFile(path, purchases); err != nil {
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

func writeBenchFile(path string, purchases int) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(file)
	for i := range purchases {
		fmt.Fprintf(w, `{"type":"purchase","cleengCustomerId":%d,"originalTransactionId":"7%015d","transactionIds":["7%015d"],"offerId":"S123456789_US","productId":"com.example.premium.monthly","kind":"auto-renewable","state":"active","expiresAt":"2036-01-31T00:00:00Z"}`+"\n",
			600_000_000+i/2, i, i+500_000)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return file.Close()
}
