// Command webhook-receiver is a publisher's endpoint for trying webhooks
// locally: it verifies each delivery with the official Standard Webhooks
// library and the secret in WEBHOOK_SECRET, prints it, and answers 204 (401
// when the signature does not verify). -fail N answers 503 to the first N
// deliveries, to watch the retries.
//
//	set -a; source .local/run.env; set +a
//	go run ./dev/cmd/webhook-receiver -addr 127.0.0.1:4000
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4000", "address to listen on")
	fail := flag.Int("fail", 0, "answer 503 to the first N deliveries")
	flag.Parse()

	secret := os.Getenv("WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("WEBHOOK_SECRET is not set: start make run with WEBHOOK_URL set, then source .local/run.env")
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		log.Fatalf("WEBHOOK_SECRET: %v", err)
	}
	var received atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		n := received.Add(1)
		id := r.Header.Get(standardwebhooks.HeaderWebhookID)
		if err := wh.Verify(body, r.Header); err != nil {
			fmt.Printf("%s #%d %s: signature NOT verified (%v)\n", time.Now().Format(time.TimeOnly), n, id, err)
			http.Error(w, "signature not verified", http.StatusUnauthorized)
			return
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, body, "  ", "  ") != nil {
			pretty.Write(body)
		}
		fmt.Printf("%s #%d %s: signature verified\n  %s\n", time.Now().Format(time.TimeOnly), n, id, pretty.String())
		if n <= int64(*fail) {
			fmt.Printf("  answering 503 (-fail %d): it will be retried\n", *fail)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	fmt.Printf("Receiving webhooks on http://%s/ (any path)\n", *addr)
	srv := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
