// Package soak is `make soak`: the whole service on the local stack under a
// mixed load from many clients while faults are injected (at the SDK's HTTP
// transport, in queue deliveries, by SIGKILL of the consumer processes and
// SIGSTOP of the emulators), then, once the load stops and the system has
// drained, a checker that reads the final state through the API and the
// table and reports every violation of the guarantees (docs/design.md), and
// a capacity measurement against the emulators' raw ceiling. Bounded in time
// and count, loopback only; it stops by itself.
package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/localaws"
)

// Options bound and shape one soak.
type Options struct {
	// Duration is how long the load runs; the drain and the checks follow.
	Duration time.Duration
	// Clients are the concurrent clients of the load.
	Clients int
	// Rate is how many operations per second the clients start in all (a
	// steady arrival rate, as a population of publishers' clients makes);
	// 0 has each client go as fast as it is answered, which saturates the
	// service (see DefaultRate).
	Rate      float64
	Customers int
	// Purchases are seeded; the first HotPurchases take most transfers.
	Purchases, HotPurchases int
	Faults                  Faults
	// Kill SIGKILLs a consumer process about every KillEvery; Stall
	// SIGSTOPs an emulator for 1-3 s about every StallEvery.
	Kill, Stall           bool
	KillEvery, StallEvery time.Duration
	// ProcessorProcesses and WebhookProcesses are the consumer processes,
	// which share the queue's MaximumConcurrency between them; 0 runs the
	// consumers in this process (and nothing to kill).
	ProcessorProcesses, WebhookProcesses int
	// Self is this program, run again with -role for each consumer process.
	Self string
	// DrainTimeout bounds the wait for the system to drain.
	DrainTimeout time.Duration
	// Capacity is how long each half of the capacity measurement runs; 0 skips it.
	Capacity time.Duration
	Seed     uint64
	LogDir   string
	Out      io.Writer
}

// DefaultRate is the load's default pace, in client operations per second
// (about a third of them are accepted transfers): below what the webhook
// path sustains on a shared 2-core machine, with every fault injected.
//
// Unpaced, the load saturates the transfer path and the webhook queue never
// drains: every event fans out to the four endpoints, about 8 queue
// messages and 19 DynamoDB writes per event (a dispatch with 4 deliveries
// created and the event marked; a claim and a record per attempt; the
// failing endpoint's 3 attempts and parking; the flapping one's retry)
// against 2 to 3 writes for the transfer itself, all on one DynamoDB Local.
// By design nothing slows transfers down for webhooks (no backpressure), so
// at saturation the backlog grows as long as the load lasts: measured, 16
// unpaced clients had about 17 transfers/s accepted, needing about 140
// webhook messages/s, while the webhook consumers handled 65-85/s (their
// batches at once are the template's MaximumConcurrency). That is an
// offered load above the designed capacity, not a broken guarantee; -rate 0
// still runs it, with a drain long enough for the backlog.
const DefaultRate = 16

// Run runs one soak and prints its report to opt.Out. It returns
// ErrViolations when the checker found any.
func Run(ctx context.Context, opt Options) (*Report, error) {
	faults := NewTally()
	in := NewInjector(opt.Faults, faults, opt.Seed)
	in.Meter = NewMeter()
	fmt.Fprintf(opt.Out, "soak: starting DynamoDB Local and ElasticMQ (logs in %s) ...\n", opt.LogDir)
	e, err := startEnv(ctx, opt, in)
	if err != nil {
		return nil, err
	}
	defer e.stop()
	w := newWorld()
	kinds := []string{ReceiverHealthy, ReceiverFlapping, ReceiverFailing, ReceiverHanging}
	var receivers, healthy []*receiver
	for _, k := range kinds {
		r, err := startReceiver(k)
		if err != nil {
			return nil, err
		}
		defer r.close()
		receivers = append(receivers, r)
		if k != ReceiverFailing {
			healthy = append(healthy, r)
		}
	}
	if err := e.seed(ctx, w, opt, receivers); err != nil {
		return nil, err
	}
	if err := e.serve(); err != nil {
		return nil, err
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	e.sweep(runCtx)
	cons, err := e.startConsumers(runCtx, opt, in, faults)
	if err != nil {
		return nil, err
	}
	chaosCtx, stopChaos := context.WithCancel(runCtx)
	defer stopChaos()
	ch := &chaos{opt: opt, e: e, cons: cons, tally: faults, rnd: newRand(opt.Seed, 999)}
	chaosDone := make(chan struct{})
	go func() { defer close(chaosDone); ch.run(chaosCtx) }()

	pace := "as fast as answered"
	if opt.Rate > 0 {
		pace = fmt.Sprintf("%g operations/s in all", opt.Rate)
	}
	fmt.Fprintf(opt.Out, "soak: %d customers, %d purchases (%d hot), %d clients (%s) for %s; API on %s\n",
		opt.Customers, opt.Purchases, opt.HotPurchases, opt.Clients, pace, opt.Duration, e.apiURL)
	started := time.Now()
	w.loadEnd = started.Add(opt.Duration)
	if opt.Rate > 0 {
		w.pace = rate.NewLimiter(rate.Limit(opt.Rate), 1)
	}
	httpClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: opt.Clients + 2}}
	var load sync.WaitGroup
	for i := range opt.Clients {
		c := &client{n: i, w: w, api: e.apiURL, http: httpClient, rnd: newRand(opt.Seed, i), jwt: e.jwtSecret}
		load.Go(func() { c.run(runCtx) })
	}
	apple := &notifier{client: &client{n: -1, w: w, api: e.apiURL, http: httpClient, rnd: newRand(opt.Seed, -1)}, root: e.root, every: 100 * time.Millisecond}
	load.Go(func() { apple.run(runCtx) })
	load.Wait()
	loadTook := time.Since(started)

	// Heal, then drain: no new fault from here on.
	stopChaos()
	<-chaosDone
	in.Heal()
	for _, c := range cons {
		c.heal()
	}
	fmt.Fprintf(opt.Out, "soak: load done in %s; healed; draining (at most %s) ...\n", loadTook.Round(time.Second), opt.DrainTimeout)
	drainStart := time.Now()
	pending, err := e.waitDrained(ctx, w, healthy, opt.DrainTimeout, opt.Out)
	if err != nil {
		return nil, err
	}
	if pending != "" {
		w.stats.violation(vUnfinished, "not drained in "+opt.DrainTimeout.String()+": "+pending)
	}
	drainTook := time.Since(drainStart)
	checker := &client{n: -2, w: w, api: e.apiURL, http: httpClient, rnd: newRand(opt.Seed, -2)}
	results, err := e.check(ctx, w, receivers, checker)
	if err != nil {
		return nil, err
	}
	rep := newReport(w, faults, results, receivers, loadTook, drainTook)
	for _, c := range cons {
		rep.Restarts[c.role] = c.restarts
	}
	// Taken before the capacity measurement, which is not the soak's load.
	rep.Meters = map[string]map[string]Tick{"soak (API, sweepers)": in.Meter.Snapshot()}
	for _, c := range cons {
		rep.Meters[c.role] = c.meter.Snapshot()
	}
	if opt.Capacity > 0 {
		fmt.Fprintf(opt.Out, "soak: measuring capacity (%s end to end, %s raw) ...\n", opt.Capacity, opt.Capacity)
		capRes, err := e.capacity(ctx, opt, cons)
		if err != nil {
			return nil, err
		}
		rep.Capacity = &capRes
	}
	stopRun()
	for _, c := range cons {
		c.wait()
	}
	rep.print(opt.Out)
	if rep.Violations() > 0 {
		return rep, ErrViolations
	}
	return rep, nil
}

// startConsumers runs the processor and the webhook function, each queue
// with as many batches at once as its event source mapping allows, shared by
// their processes (or in this process when there are none).
func (e *env) startConsumers(ctx context.Context, opt Options, in *Injector, faults *Tally) ([]*consumers, error) {
	roles := []struct {
		role, queue string
		procs       int
	}{
		{RoleProcessor, localaws.TransferQueueID, opt.ProcessorProcesses},
		{RoleWebhook, webhookQueueID, opt.WebhookProcesses},
	}
	var out []*consumers
	for i, r := range roles {
		total := inprocess.QueueConcurrency(e.stack.Template, r.queue)
		if r.procs == 0 {
			rc := e.roleConfig(r.role, total, opt.Seed+uint64(i))
			go func() { _ = RunRole(ctx, rc, in) }()
			continue
		}
		logs, err := logFile(opt.LogDir, r.role+".log")
		if err != nil {
			return nil, err
		}
		// Each process its share of the batches (at least one).
		rc := e.roleConfig(r.role, max(1, (total+r.procs-1)/r.procs), opt.Seed+uint64(i))
		c, err := startConsumers(ctx, opt.Self, rc, r.procs, logs, faults)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// chaos kills consumer processes and stalls the emulators at random moments.
type chaos struct {
	opt   Options
	e     *env
	cons  []*consumers
	tally *Tally
	rnd   interface{ IntN(int) int }
}

func (c *chaos) run(ctx context.Context) {
	var wg sync.WaitGroup
	if c.opt.Kill && len(c.cons) > 0 {
		wg.Go(func() {
			for c.sleep(ctx, c.opt.KillEvery) {
				if c.cons[c.rnd.IntN(len(c.cons))].killOne(c.rnd.IntN) {
					c.tally.Add(FaultKill)
				}
			}
		})
	}
	if c.opt.Stall {
		wg.Go(func() {
			for c.sleep(ctx, c.opt.StallEvery) {
				pid := c.e.stack.DynamoDB.PID
				if c.rnd.IntN(2) == 0 {
					pid = c.e.stack.SQS.PID
				}
				c.stall(ctx, pid, time.Second+time.Duration(c.rnd.IntN(2000))*time.Millisecond)
			}
		})
	}
	wg.Wait()
}

// sleep waits about every (half to one and a half of it); false once ctx ends.
func (c *chaos) sleep(ctx context.Context, every time.Duration) bool {
	d := every/2 + time.Duration(c.rnd.IntN(int(every)+1))
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// stall stops an emulator's process group for d, and always continues it.
func (c *chaos) stall(ctx context.Context, pid int, d time.Duration) {
	if syscall.Kill(-pid, syscall.SIGSTOP) != nil {
		return
	}
	defer func() { _ = syscall.Kill(-pid, syscall.SIGCONT) }()
	c.tally.Add(FaultStall)
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// IsViolations tells an error of Run apart from a failure to run.
func IsViolations(err error) bool { return errors.Is(err, ErrViolations) }

// RoleMain is the body of a consumer process: its RoleConfig on standard
// input, each fault it injects on standard output, SIGUSR1 heals it, and it
// runs until killed.
func RoleMain(role string) error {
	// Before anything: SIGUSR1's default is to end the process.
	healed := make(chan os.Signal, 1)
	signal.Notify(healed, syscall.SIGUSR1)
	var rc RoleConfig
	if err := decodeJSON(os.Stdin, &rc); err != nil {
		return fmt.Errorf("soak %s: read its configuration: %w", role, err)
	}
	if rc.Role != role {
		return fmt.Errorf("soak: started as %s with the configuration of %s", role, rc.Role)
	}
	t := NewTally()
	var out sync.Mutex
	reportFaults(t, os.Stdout, &out)
	in := NewInjector(rc.Faults, t, rc.Seed^uint64(os.Getpid()))
	in.Meter = NewMeter()
	go reportMeter(in.Meter, os.Stdout, &out, time.Second, nil)
	go func() { <-healed; in.Heal() }()
	return RunRole(context.Background(), rc, in)
}
