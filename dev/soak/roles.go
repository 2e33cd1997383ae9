package soak

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/acme/purchase-transfer/dev/emulator"
	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// Roles of the consumer processes.
const (
	RoleProcessor = "processor"
	RoleWebhook   = "webhook"
)

// RoleConfig is what a consumer needs: where the stack is, the service's
// settings, and the faults to inject; a consumer process reads it from its
// standard input. It holds no secret: the sealing key is read from the local
// Secrets Manager, as the webhook function reads it.
type RoleConfig struct {
	Role             string              `json:"role"`
	Endpoints        inprocess.Endpoints `json:"endpoints"`
	Table            string              `json:"table"`
	TransferQueueURL string              `json:"transferQueueUrl"`
	WebhookQueueURL  string              `json:"webhookQueueUrl"`
	WebhookDLQURL    string              `json:"webhookDlqUrl"`
	MaxReceives      int                 `json:"maxReceives"`
	LockLease        time.Duration       `json:"lockLease"`
	SweepGrace       time.Duration       `json:"sweepGrace"`
	SealingKeySecret string              `json:"sealingKeySecretId"`
	AttemptTimeout   time.Duration       `json:"attemptTimeout"`
	RetrySchedule    []time.Duration     `json:"retrySchedule"`
	// Pollers is how many batches this consumer handles at once.
	Pollers int `json:"pollers"`
	// Timeout is the consuming function's Timeout (the batch's deadline).
	Timeout time.Duration `json:"timeout"`
	Faults  Faults        `json:"faults"`
	Seed    uint64        `json:"seed"`
}

// service composes the service as the mains do, with the soak's settings,
// on clients; the sealing keys come from secrets (Secrets Manager).
func (rc RoleConfig) service(ctx context.Context, clients inprocess.Clients, secrets *secretsmanager.Client) *inprocess.Service {
	return inprocess.New(inprocess.Config{
		TableName:        rc.Table,
		TransferQueueURL: rc.TransferQueueURL,
		LockLease:        rc.LockLease,
		MaxReceives:      rc.MaxReceives,
		Retention:        dynamo.DefaultRetention,
		SweepGrace:       rc.SweepGrace,
		WebhookQueueURL:  rc.WebhookQueueURL,
		Webhook: inprocess.WebhookConfig{
			DeadLetterQueueURL: rc.WebhookDLQURL,
			SealingKeys:        config.SealingKeys(ctx, secrets, rc.SealingKeySecret),
			AttemptTimeout:     rc.AttemptTimeout,
			Retry:              webhook.RetryPolicy{Schedule: rc.RetrySchedule, ClientErrorAttempts: 3, Jitter: 0.2},
			Egress:             egress.Local,
		},
	}, clients)
}

// faultyClients are SDK clients whose every request passes the injector.
func faultyClients(stack *localaws.Stack, in *Injector) inprocess.Clients {
	cfg := stack.AWSConfig()
	cfg.HTTPClient = &http.Client{Transport: in.Transport(http.DefaultTransport.(*http.Transport).Clone())}
	return inprocess.NewClients(cfg, stack.Endpoints())
}

// RunRole runs one consumer until ctx ends: the processor or the webhook
// function fed by Pollers pollers, its SDK clients and messages faulty as in
// says.
func RunRole(ctx context.Context, rc RoleConfig, in *Injector) error {
	stack, err := localaws.Connect(rc.Endpoints)
	if err != nil {
		return err
	}
	faulty := faultyClients(stack, in)
	svc := rc.service(ctx, faulty, stack.Clients.SecretsManager)
	var h queue.BatchHandler
	url := rc.TransferQueueURL
	switch rc.Role {
	case RoleProcessor:
		h = svc.ProcessorBatchHandler(svc.WebhookAnnouncement(faulty)...)
	case RoleWebhook:
		w, err := svc.WebhookWorker(faulty)
		if err != nil {
			return err
		}
		h = queue.WebhookBatchHandler(meteredWorker{w, in.Meter}, svc.WebhookQueue(faulty))
		url = rc.WebhookQueueURL
	default:
		return fmt.Errorf("soak: unknown role %q", rc.Role)
	}
	// The poller's own receive and delete go through the faulty client too:
	// a delete lost is a redelivery.
	inprocess.Pollers{N: rc.Pollers, Poller: queue.Poller{
		SQS: faulty.SQS, QueueURL: url, Handler: meterBatches(in.Meter, in.Messages(h, stack.Clients.SQS, url)),
		Wait: time.Second, Timeout: rc.Timeout,
	}}.Run(ctx)
	return nil
}

// meterBatches counts the batches a consumer handles, their records, and
// how long each took from its hand-over to its answer (the poller deletes
// the messages done after that): with MaximumConcurrency batches at once,
// a batch's wall time is what bounds the queue's throughput.
func meterBatches(m *Meter, h queue.BatchHandler) queue.BatchHandler {
	return func(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
		start := time.Now()
		resp, err := h(ctx, event)
		m.Observe("batch", time.Since(start))
		m.Count("batch records", len(event.Records))
		m.Count("batch records failed (come back)", len(resp.BatchItemFailures))
		return resp, err
	}
}

// meteredWorker counts the webhook queue's messages by kind and what came of
// each, with how long each took.
type meteredWorker struct {
	w *webhook.Worker
	m *Meter
}

func (mw meteredWorker) Handle(ctx context.Context, msg webhook.Message) (webhook.Outcome, error) {
	start := time.Now()
	out, err := mw.w.Handle(ctx, msg)
	what := "done"
	switch {
	case err != nil:
		what = "error"
	case out.RetryIn > 0:
		what = "retry later"
	}
	mw.m.Observe(fmt.Sprintf("message %s: %s", msg.Kind, what), time.Since(start))
	return out, err
}

// reportFaults makes a consumer process write each fault it injects to w as
// one JSON line, which the soak counts (a process killed loses nothing
// already written); mu serializes its lines with the process's other reports.
func reportFaults(t *Tally, w io.Writer, mu *sync.Mutex) {
	enc := json.NewEncoder(w)
	t.OnAdd = func(kind string) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(faultLine{Fault: kind})
	}
}

type faultLine struct {
	Fault string `json:"fault"`
}

// consumers keeps n processes of one role running (restarting each one that
// dies) until ctx ends, and can kill one at random.
type consumers struct {
	role    string
	self    string
	config  RoleConfig
	logFile *os.File
	healed  bool
	tally   *Tally
	// meter sums what the processes report of their round trips and batches.
	meter *Meter

	mu       sync.Mutex
	running  map[int]*emulator.Child
	wg       sync.WaitGroup
	restarts int
}

func startConsumers(ctx context.Context, self string, rc RoleConfig, n int, logFile *os.File, tally *Tally) (*consumers, error) {
	c := &consumers{role: rc.Role, self: self, config: rc, logFile: logFile, tally: tally, meter: NewMeter(), running: map[int]*emulator.Child{}}
	for slot := range n {
		c.wg.Go(func() { c.keep(ctx, slot) })
	}
	return c, nil
}

// keep runs the process of one slot again each time it exits, until ctx ends.
func (c *consumers) keep(ctx context.Context, slot int) {
	for ctx.Err() == nil {
		c.mu.Lock()
		rc := c.config
		if c.healed {
			rc.Faults = Faults{}
		}
		c.mu.Unlock()
		cfg, err := json.Marshal(rc)
		if err != nil {
			fmt.Fprintf(c.logFile, "soak: %s: %v\n", c.role, err)
			return
		}
		cmd := exec.Command(c.self, "-role", c.role)
		cmd.Stdin = bytes.NewReader(cfg)
		cmd.Stderr = c.logFile
		out, err := cmd.StdoutPipe()
		if err != nil {
			fmt.Fprintf(c.logFile, "soak: %s: %v\n", c.role, err)
			return
		}
		child, err := emulator.StartChild(cmd)
		if err != nil {
			fmt.Fprintf(c.logFile, "soak: start %s: %v\n", c.role, err)
			return
		}
		c.mu.Lock()
		c.running[slot] = child
		c.mu.Unlock()
		read := make(chan struct{})
		go func() { defer close(read); c.count(out) }()
		select {
		case <-ctx.Done():
			_ = child.Kill()
		case <-child.Done():
		}
		<-read
		c.mu.Lock()
		delete(c.running, slot)
		if ctx.Err() == nil {
			c.restarts++
		}
		c.mu.Unlock()
	}
}

func (c *consumers) count(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		var l struct {
			faultLine
			meterLine
		}
		if json.Unmarshal(s.Bytes(), &l) != nil {
			continue
		}
		if l.Fault != "" {
			c.tally.Add(l.Fault)
		}
		if l.Meter != nil {
			c.meter.Add(l.Meter)
		}
	}
}

// killOne SIGKILLs the process of a random slot; false when none runs.
func (c *consumers) killOne(pick func(int) int) bool {
	c.mu.Lock()
	var live []*emulator.Child
	for _, ch := range c.running {
		live = append(live, ch)
	}
	c.mu.Unlock()
	if len(live) == 0 {
		return false
	}
	return live[pick(len(live))].Kill() == nil
}

// pids are the processes running now.
func (c *consumers) pids() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int, 0, len(c.running))
	for _, ch := range c.running {
		out = append(out, ch.PID)
	}
	return out
}

// heal stops the faults of the running processes (SIGUSR1) and of those
// started from now on.
func (c *consumers) heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.healed = true
	for _, ch := range c.running {
		_ = syscall.Kill(ch.PID, syscall.SIGUSR1)
	}
}

// wait returns once every process has stopped (after ctx ended).
func (c *consumers) wait() { c.wg.Wait() }

// ErrViolations is returned by Run when the checker found any.
var ErrViolations = errors.New("soak: violations found")
