// Command soak is `make soak`: the service on the local stack under a mixed
// load while faults are injected, then a checker of the final state and a
// capacity measurement (see package dev/soak). It exits 1 on any violation,
// 2 on a wrong command line. Run as `soak -role processor|webhook` it is one
// of its own consumer processes.
//
//	go run ./dev/cmd/soak -duration 90s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/acme/purchase-transfer/dev/soak"
)

func main() {
	role := flag.String("role", "", "run as one consumer process ("+soak.RoleProcessor+" or "+soak.RoleWebhook+"), its configuration on standard input")
	opt := soak.Options{Faults: soak.DefaultFaults(), Out: os.Stdout}
	flag.DurationVar(&opt.Duration, "duration", 60*time.Second, "how long the load runs (the drain, checks and capacity follow)")
	flag.IntVar(&opt.Clients, "clients", 16, "concurrent clients")
	flag.Float64Var(&opt.Rate, "rate", soak.DefaultRate, "client operations started per second in all (0: each client as fast as it is answered, which saturates the service and outgrows the webhook path)")
	flag.IntVar(&opt.Customers, "customers", 60, "customers seeded")
	flag.IntVar(&opt.Purchases, "purchases", 300, "purchases seeded (chains of 1-3 transactionIds)")
	flag.IntVar(&opt.HotPurchases, "hot", 6, "purchases that take most transfers (contention)")
	seed := flag.Uint64("seed", 0, "random seed (0: a random one, printed)")
	flag.BoolVar(&opt.Kill, "kill", true, "SIGKILL consumer processes at random moments (restarted at once)")
	flag.DurationVar(&opt.KillEvery, "kill-every", 6*time.Second, "about how often a consumer process is killed")
	flag.BoolVar(&opt.Stall, "stall", true, "SIGSTOP DynamoDB Local or ElasticMQ for 1-3 s at random moments")
	flag.DurationVar(&opt.StallEvery, "stall-every", 10*time.Second, "about how often an emulator stalls")
	flag.IntVar(&opt.ProcessorProcesses, "processors", 2, "processor processes (0: in this process, nothing to kill)")
	flag.IntVar(&opt.WebhookProcesses, "webhooks", 2, "webhook consumer processes (0: in this process)")
	flag.DurationVar(&opt.DrainTimeout, "drain", -1, "longest wait for the system to drain after the load (default the longer of 4m and 1.5 x duration)")
	capacity := flag.Duration("capacity", -1, "each half of the capacity measurement (0 skips it; default duration/10 within 15s-60s)")
	flag.StringVar(&opt.LogDir, "log-dir", filepath.Join(".local", "soak"), "folder of the emulators' and consumers' logs")
	f := &opt.Faults
	flag.Float64Var(&f.PreSend, "fault-presend", f.PreSend, "probability an SDK request fails before it is sent")
	flag.Float64Var(&f.Ambiguous, "fault-ambiguous", f.Ambiguous, "probability a TransactWriteItems or SendMessage commits and its answer is lost")
	flag.Float64Var(&f.Throttle, "fault-throttle", f.Throttle, "probability an SDK request is answered with throttling")
	flag.Float64Var(&f.Conflict, "fault-conflict", f.Conflict, "probability a TransactWriteItems is answered TransactionConflict")
	flag.Float64Var(&f.Latency, "fault-latency", f.Latency, "probability an SDK request is delayed (up to -fault-max-latency)")
	flag.DurationVar(&f.MaxLatency, "fault-max-latency", f.MaxLatency, "the longest added latency")
	flag.Float64Var(&f.Duplicate, "fault-duplicate", f.Duplicate, "probability a received message is handled twice")
	flag.Float64Var(&f.Late, "fault-late", f.Late, "probability a received message is sent again, 1-5 s late")
	flag.Float64Var(&f.Reorder, "fault-reorder", f.Reorder, "probability a batch is shuffled")
	noFaults := flag.Bool("no-faults", false, "inject no transport or message fault (the -kill and -stall flags still apply)")
	flag.Parse()

	// Refusals are logged at info level, injected failures at warn/error:
	// keep the output to the report.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if *role != "" {
		if err := soak.RoleMain(*role); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if *noFaults {
		opt.Faults = soak.Faults{}
	}
	opt.Seed = *seed
	if opt.Seed == 0 {
		opt.Seed = rand.Uint64()
	}
	opt.Capacity = *capacity
	// At saturation the webhook backlog grows with the load (each event fans
	// out to every endpoint, and delivery is slower than acceptance on a
	// shared machine), so the drain's bound grows with it: the checker
	// judges what the system did, not how fast this machine is.
	if opt.DrainTimeout < 0 {
		opt.DrainTimeout = max(4*time.Minute, opt.Duration*3/2)
	}
	if opt.Capacity < 0 {
		opt.Capacity = min(max(opt.Duration/10, 15*time.Second), time.Minute)
	}
	if opt.Duration <= 0 || opt.Clients <= 0 || opt.Customers < 2 || opt.Purchases <= opt.HotPurchases || opt.KillEvery <= 0 || opt.StallEvery <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -duration, -clients, -kill-every and -stall-every must be positive, -customers at least 2, -purchases more than -hot")
		os.Exit(2)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	opt.Self = self
	fmt.Printf("soak: seed %d (-seed %d repeats the workload's choices)\n", opt.Seed, opt.Seed)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := soak.Run(ctx, opt); err != nil {
		if soak.IsViolations(err) {
			fmt.Println("soak: FAILED: violations found")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	fmt.Println("soak: OK, no violation")
}
