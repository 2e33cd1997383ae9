package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// LoadOptions bound the loopback load run: every phase stops after its
// request count or its duration, whichever comes first.
type LoadOptions struct {
	// Levels are the concurrency levels (workers sending back to back).
	Levels []int
	// Requests is the number of requests of each kind (floor, transfer,
	// transfer with a cached chain, status) per concurrency level. The first
	// three are interleaved, request by request, so that a burst of noise
	// from other processes on the machine hits the floor and the service
	// alike.
	Requests int
	// PhaseLimit bounds the wall time of one phase.
	PhaseLimit time.Duration
	// Finalized is the number of transfers timed from 202 to finalized,
	// sent one at a time with the processor running.
	Finalized int
	// Warmup requests of each kind are sent, and not measured, first.
	Warmup int
	// Renewals is the number of DID_RENEW notifications timed, one at a
	// time, until a transfer of the new transactionId is finalized.
	Renewals int
	// LiveChecks is the number of processor jobs timed with the live check
	// (verifyWithApple) and as many without, one at a time, interleaved.
	LiveChecks int
}

// DefaultLoad is what `make bench` runs: about a minute on 2 cores.
var DefaultLoad = LoadOptions{Levels: []int{1, 8}, Requests: 600, PhaseLimit: time.Minute, Finalized: 150, Warmup: 50, Renewals: 150, LiveChecks: 100}

// LoadResult is what RunLoad measured.
type LoadResult struct {
	RoundTrips RoundTripResult
	Levels     []LevelResult
	// Finalized is the time from a transfer's 202 to the commit of its
	// finalization by the processor (polled by nobody: measured in process).
	Finalized Latencies
	// Renewal is the time from a DID_RENEW to a transfer of its new
	// transactionId (nil in results saved before it was measured).
	Renewal *RenewalResult `json:",omitempty"`
	// LiveCheck is the processor with verifyWithApple (nil in results saved
	// before it was measured).
	LiveCheck *LiveCheckResult `json:",omitempty"`
}

// RoundTripResult counts AWS requests, per request or per message.
type RoundTripResult struct {
	// TransferCold is the first transfer of a fresh container.
	TransferCold RoundTrips
	// TransferWarm is a warm container's transfer of a transactionId it has
	// not seen: credentials cached, the chain read.
	TransferWarm RoundTrips
	// TransferRepeat is a warm container's transfer of a transactionId it
	// has seen before (chain cached): the budget's "warm repeat".
	TransferRepeat RoundTrips
	StatusCold     RoundTrips
	StatusWarm     RoundTrips
	// Processor is per message, averaged over a batch, before any webhook.
	Processor        RoundTrips
	ProcessorPerMsg  float64
	ProcessorSamples int
	// Apple is per DID_RENEW notification.
	Apple AppleRoundTrips
}

// LevelResult is the latency at one concurrency level.
type LevelResult struct {
	Concurrency int
	// Floor is one raw TransactWriteItems shaped like the transfer's plus
	// one raw SendMessage, from the same process, to the same emulators.
	Floor Latencies
	// Transfer is POST /purchases/transfers of a transactionId the
	// container has not seen (credentials cached): 3 round trips.
	Transfer Latencies
	// TransferCached has the chain cached too: 2 round trips, like the floor.
	TransferCached Latencies
	// MixPerSecond is the throughput of the three above, interleaved.
	MixPerSecond float64
	Status       Latencies
	// Apple is the Apple notifications endpoint against its own floor, in a
	// phase of its own (nil in results saved before it was measured).
	Apple *AppleLatency `json:",omitempty"`
}

// Env is the service under test, served on 127.0.0.1 by an httptest.Server
// with the same http.Handler the Lambdas and the local runner use, its own
// table and queues in the emulators, and seeded data.
type Env struct {
	stack     *localaws.Stack
	res       localaws.Resources
	floorURL  string
	cfg       inprocess.Config
	counter   *Counter
	clients   inprocess.Clients
	svc       *inprocess.Service
	server    *httptest.Server
	http      *http.Client
	publisher transfer.PublisherID
	token     string
	owner     transfer.CustomerID
	targets   []transfer.CustomerID
	customer  string // a customer's key, for the floor's condition check
	// appleRoot signs like Apple; the service trusts it instead of Apple
	// Root CA - G3 (Config.Apple.Roots), as in `make run`.
	appleRoot   *localroot.Authority
	appleServer *httptest.Server
	appleSeq    atomic.Int64 // makes notificationUUIDs unique

	mu  sync.Mutex
	txs []string // seeded, not yet used
}

// Load measures round trips and loopback latency.
func (e *Env) Load(ctx context.Context, opt LoadOptions) (LoadResult, error) {
	var out LoadResult
	var err error
	if out.RoundTrips, err = e.roundTrips(ctx); err != nil {
		return out, fmt.Errorf("round trips: %w", err)
	}
	if out.RoundTrips.Apple, err = e.appleRoundTrips(ctx); err != nil {
		return out, fmt.Errorf("apple round trips: %w", err)
	}
	live, err := e.liveCheck(ctx, opt.LiveChecks)
	if err != nil {
		return out, fmt.Errorf("live check: %w", err)
	}
	out.LiveCheck = &live
	if err := e.warmup(ctx, opt); err != nil {
		return out, fmt.Errorf("warm-up: %w", err)
	}
	for _, c := range opt.Levels {
		lr, err := e.level(ctx, c, opt)
		if err != nil {
			return out, fmt.Errorf("concurrency %d: %w", c, err)
		}
		al, err := e.appleMix(ctx, c, opt.Requests, opt.PhaseLimit)
		if err != nil {
			return out, fmt.Errorf("apple, concurrency %d: %w", c, err)
		}
		lr.Apple = &al
		out.Levels = append(out.Levels, lr)
	}
	// Nothing processed the jobs of the phases: drop them.
	if _, err := e.stack.Clients.SQS.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(e.res.TransferQueueURL())}); err != nil {
		return out, err
	}
	err = e.withProcessor(ctx, func(n *finalizedNotifier) error {
		if out.Finalized, err = e.finalized(ctx, opt, n); err != nil {
			return fmt.Errorf("202 to finalized: %w", err)
		}
		renewal, err := e.renewals(ctx, opt, n)
		if err != nil {
			return fmt.Errorf("renewal to transferred: %w", err)
		}
		out.Renewal = &renewal
		return nil
	})
	return out, err
}

// Purchases is the number of transactionIds Load uses.
func (o LoadOptions) Purchases() int {
	transfers := 2*o.Requests*len(o.Levels) + o.Warmup + o.Finalized + processorBatch + liveBatch + o.LiveChecks
	// Each Apple phase renews a chain per floor request and per notification.
	apple := 2 + 2*o.Requests*len(o.Levels) + 2*o.Warmup + o.Renewals
	return transfers + apple
}

// NewEnv creates the service's table and queues in stack's emulators, seeds
// a publisher and purchases purchases (one transactionId each), and serves
// the API. Close stops the server.
func NewEnv(ctx context.Context, stack *localaws.Stack, purchases int) (*Env, error) {
	res, err := stack.IsolatedResources(ctx)
	if err != nil {
		return nil, err
	}
	floor, err := stack.Clients.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench-floor-" + rand.Text()[:8])})
	if err != nil {
		return nil, fmt.Errorf("floor queue: %w", err)
	}
	e := &Env{stack: stack, res: res, floorURL: aws.ToString(floor.QueueUrl), counter: NewCounter()}
	if e.appleRoot, err = localroot.New(); err != nil {
		return nil, fmt.Errorf("apple test root: %w", err)
	}
	e.cfg = inprocess.Config{
		TableName:        res.Table,
		TransferQueueURL: res.TransferQueueURL(),
		AuthCacheTTL:     time.Minute, // the run must not see the cache expire mid-phase
		LockLease:        transfer.DefaultLockLease,
		MaxReceives:      5,
		Retention:        dynamo.DefaultRetention,
		Apple:            inprocess.AppleConfig{Roots: e.appleRoot.Pool()},
	}
	awsCfg := stack.AWSConfig()
	awsCfg.HTTPClient = e.counter
	e.clients = inprocess.NewClients(awsCfg, stack.Endpoints())
	e.svc = inprocess.New(e.cfg, e.clients)
	e.server = httptest.NewServer(e.svc.Handler(e.svc.Queue(e.clients)))
	e.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	if e.appleServer, err = appleServer(e.svc); err != nil {
		e.Close()
		return nil, err
	}

	if err := e.seed(ctx, purchases); err != nil {
		e.Close()
		return nil, fmt.Errorf("seed: %w", err)
	}
	return e, nil
}

// Close stops the API servers.
func (e *Env) Close() {
	e.server.Close()
	if e.appleServer != nil {
		e.appleServer.Close()
	}
	e.http.CloseIdleConnections()
}

func (e *Env) seed(ctx context.Context, purchases int) error {
	store := dynamo.NewOperatorStore(dynamo.NewTable(e.stack.Clients.DynamoDB, e.res.Table))
	e.publisher = transfer.PublisherID(100000001)
	var hash string
	e.token, hash = auth.NewPublisherToken(e.publisher)
	if err := store.PutPublisher(ctx, transfer.Publisher{ID: e.publisher, Name: "Bench", StoreKit2Active: true, Apple: AppleApp()}); err != nil {
		return err
	}
	if err := store.PutToken(ctx, e.publisher, hash, "bench"); err != nil {
		return err
	}
	e.owner = 900000001
	// Transfers go to many customers, as they do in use: each one's count of
	// unfinished synchronizations is one item (REQ0007), which transfers to
	// the same customer would contend for at once.
	e.targets = make([]transfer.CustomerID, 64)
	for i := range e.targets {
		e.targets[i] = transfer.CustomerID(900000002 + i)
	}
	if err := store.PutCustomers(ctx, e.publisher, append([]transfer.CustomerID{e.owner}, e.targets...)...); err != nil {
		return err
	}
	e.customer = "PUB#" + strconv.FormatInt(int64(e.publisher), 10) + "#CUSTOMER#" + strconv.FormatInt(int64(e.targets[0]), 10)

	e.txs = make([]string, purchases)
	for i := range e.txs {
		e.txs[i] = fmt.Sprintf("3%015d", i+1)
	}
	expires := time.Now().AddDate(0, 1, 0).UTC().Truncate(time.Second)
	return parallel(ctx, 4, len(e.txs), func(i int) error {
		return store.PutPurchase(ctx, transfer.Purchase{
			PublisherID: e.publisher, OriginalTransactionID: "otx-" + e.txs[i], TransactionIDs: []string{e.txs[i]},
			Owner: e.owner, OfferID: "S123456789_US", ProductID: "com.example.premium.monthly",
			Kind: transfer.KindAutoRenewable, State: transfer.StateActive, ExpiresAt: expires,
		})
	})
}

// takeTxs hands out seeded transactionIds, each used once.
func (e *Env) takeTxs(n int) ([]string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n > len(e.txs) {
		return nil, errors.New("not enough seeded purchases")
	}
	out := e.txs[:n:n]
	e.txs = e.txs[n:]
	return out, nil
}

// parallel runs f(0..n-1) on workers goroutines, stopping at the first error.
func parallel(ctx context.Context, workers, n int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// transfer sends one transfer and returns its synchronizationId.
func (e *Env) transfer(ctx context.Context, server, tx string, target transfer.CustomerID) (string, error) {
	return e.transferAs(ctx, server, e.token, tx, target)
}

// transferAs is transfer with another publisher's token.
func (e *Env) transferAs(ctx context.Context, server, token, tx string, target transfer.CustomerID) (string, error) {
	body := `{"cleengCustomerId": ` + strconv.FormatInt(int64(target), 10) + `, "transactionId": "` + tx + `", "ipAddress": "203.0.113.7"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/purchases/transfers", bytes.NewBufferString(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Publisher-Token", token)
	resp, err := e.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("transfer %s: %d %s", tx, resp.StatusCode, raw)
	}
	var accepted struct{ SynchronizationID string }
	if err := json.Unmarshal(raw, &accepted); err != nil {
		return "", err
	}
	return accepted.SynchronizationID, nil
}

func (e *Env) status(ctx context.Context, server, id string) (transfer.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/purchases/synchronizations/"+id, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-Publisher-Token", e.token)
	resp, err := e.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s: %d %s", id, resp.StatusCode, raw)
	}
	var got struct{ Status transfer.Status }
	return got.Status, json.Unmarshal(raw, &got)
}

// floor sends the raw requests a transfer cannot do without.
func (e *Env) floor(ctx context.Context) error {
	id := rand.Text()
	if _, err := e.clients.DynamoDB.TransactWriteItems(ctx, FloorTransaction(e.res.Table, id, e.customer, "CUSTOMER", time.Now())); err != nil {
		return fmt.Errorf("floor transaction: %w", err)
	}
	if _, err := e.clients.SQS.SendMessage(ctx, FloorMessage(e.floorURL, id)); err != nil {
		return fmt.Errorf("floor message: %w", err)
	}
	return nil
}

// processorBatch is the batch size of the transfer queue's event source.
const processorBatch = 10

// roundTrips counts the AWS requests of each kind of request, one at a
// time, in containers of known state.
func (e *Env) roundTrips(ctx context.Context) (RoundTripResult, error) {
	var r RoundTripResult
	txs, err := e.takeTxs(processorBatch)
	if err != nil {
		return r, err
	}
	// A fresh container: its own caches, the same counted clients.
	fresh := func() *httptest.Server {
		svc := inprocess.New(e.cfg, e.clients)
		return httptest.NewServer(svc.Handler(svc.Queue(e.clients)))
	}
	cold := fresh()
	defer cold.Close()
	e.counter.Take()
	first, err := e.transfer(ctx, cold.URL, txs[0], e.targets[0])
	if err != nil {
		return r, err
	}
	r.TransferCold = e.counter.Take()
	if _, err := e.transfer(ctx, cold.URL, txs[1], e.targets[0]); err != nil {
		return r, err
	}
	r.TransferWarm = e.counter.Take()
	// More jobs, so that the processor's count is over a full batch.
	for _, tx := range txs[2:] {
		if _, err := e.transfer(ctx, cold.URL, tx, e.targets[0]); err != nil {
			return r, err
		}
	}
	e.counter.Take()

	coldStatus := fresh()
	defer coldStatus.Close()
	if _, err := e.status(ctx, coldStatus.URL, first); err != nil {
		return r, err
	}
	r.StatusCold = e.counter.Take()
	if _, err := e.status(ctx, coldStatus.URL, first); err != nil {
		return r, err
	}
	r.StatusWarm = e.counter.Take()

	// The processor, with its own counted clients, finishes both jobs; then
	// the warm container transfers the first purchase again.
	procCounter := NewCounter()
	awsCfg := e.stack.AWSConfig()
	awsCfg.HTTPClient = procCounter
	proc := inprocess.New(e.cfg, inprocess.NewClients(awsCfg, e.stack.Endpoints())).ProcessorBatchHandler()
	msgs, err := e.receive(ctx, processorBatch)
	if err != nil {
		return r, err
	}
	if err := e.deliver(ctx, proc, msgs); err != nil {
		return r, err
	}
	r.Processor = procCounter.Take()
	r.ProcessorSamples = len(msgs)
	r.ProcessorPerMsg = float64(r.Processor.Total()) / float64(len(msgs))

	if _, err := e.transfer(ctx, cold.URL, txs[0], e.targets[1]); err != nil {
		return r, err
	}
	r.TransferRepeat = e.counter.Take()
	// Leave the transfer queue empty for the phases that follow.
	rest, err := e.receive(ctx, 1)
	if err != nil {
		return r, err
	}
	return r, e.deliver(ctx, proc, rest)
}

// receive takes n messages from the transfer queue (uncounted client).
func (e *Env) receive(ctx context.Context, n int) ([]sqstypes.Message, error) {
	var msgs []sqstypes.Message
	url := e.res.TransferQueueURL()
	deadline := time.Now().Add(20 * time.Second)
	for len(msgs) < n && time.Now().Before(deadline) {
		out, err := e.stack.Clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &url, MaxNumberOfMessages: int32(min(n-len(msgs), 10)), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, out.Messages...)
	}
	if len(msgs) < n {
		return nil, fmt.Errorf("received %d of %d messages", len(msgs), n)
	}
	return msgs, nil
}

// SQSEvent is a batch of received messages as Lambda's event source mapping
// hands it to the processor.
func SQSEvent(msgs []sqstypes.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		ev.Records[i] = events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs", AWSRegion: localaws.Region,
		}
	}
	return ev
}

// deliver hands messages to the processor as one batch and deletes them.
func (e *Env) deliver(ctx context.Context, h queue.BatchHandler, msgs []sqstypes.Message) error {
	_, err := e.deliverTimed(ctx, h, msgs)
	return err
}

func (e *Env) delete(ctx context.Context, msgs []sqstypes.Message) error {
	url := e.res.TransferQueueURL()
	for start := 0; start < len(msgs); start += 10 {
		var entries []sqstypes.DeleteMessageBatchRequestEntry
		for _, m := range msgs[start:min(start+10, len(msgs))] {
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: m.MessageId, ReceiptHandle: m.ReceiptHandle})
		}
		if _, err := e.stack.Clients.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: entries}); err != nil {
			return err
		}
	}
	return nil
}

// phase runs n operations on c workers, timing each, until done or limit.
func phase(ctx context.Context, c, n int, limit time.Duration, op func(ctx context.Context, i int) error) ([]time.Duration, int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	samples := make([]time.Duration, n)
	done := make([]bool, n)
	var errs atomic.Int64
	var firstErr error
	var once sync.Once
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t := time.Now()
				err := op(ctx, i)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					errs.Add(1)
					once.Do(func() { firstErr = err })
					continue
				}
				samples[i], done[i] = time.Since(t), true
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	var out []time.Duration
	for i, ok := range done {
		if ok {
			out = append(out, samples[i])
		}
	}
	return out, int(errs.Load()), wall, firstErr
}

func (e *Env) warmup(ctx context.Context, opt LoadOptions) error {
	txs, err := e.takeTxs(opt.Warmup)
	if err != nil {
		return err
	}
	ids := make([]string, len(txs))
	_, _, _, err = phase(ctx, 2, len(txs), time.Minute, func(ctx context.Context, i int) error {
		id, err := e.transfer(ctx, e.server.URL, txs[i], e.targets[i%len(e.targets)])
		ids[i] = id
		return err
	})
	if err != nil {
		return err
	}
	_, _, _, err = phase(ctx, 2, opt.Warmup, time.Minute, func(ctx context.Context, i int) error {
		if err := e.floor(ctx); err != nil {
			return err
		}
		_, err := e.status(ctx, e.server.URL, ids[i%len(ids)])
		return err
	})
	if err != nil {
		return err
	}
	_, err = e.appleMix(ctx, 2, opt.Warmup, time.Minute)
	return err
}

// level measures floor, transfer and cached transfer at concurrency c,
// interleaved request by request so that the noise of a shared machine hits
// the three alike, then status.
func (e *Env) level(ctx context.Context, c int, opt LoadOptions) (LevelResult, error) {
	lr := LevelResult{Concurrency: c}
	fresh, err := e.takeTxs(opt.Requests)
	if err != nil {
		return lr, err
	}
	// The chain of these is in the container's cache, as after an earlier
	// request on the same transactionId.
	cached, err := e.takeTxs(opt.Requests)
	if err != nil {
		return lr, err
	}
	hash := auth.HashToken(e.token)
	for _, tx := range cached {
		if _, err := e.svc.Directory.Lookup(ctx, transfer.LookupKeys{Publisher: e.publisher, TokenHash: hash, TransactionID: tx}); err != nil {
			return lr, err
		}
	}
	const kinds = 3
	samples := make([][]time.Duration, kinds)
	errs := make([]int, kinds)
	var ids []string
	var mu sync.Mutex
	_, _, wall, err := phase(ctx, c, kinds*opt.Requests, opt.PhaseLimit, func(ctx context.Context, i int) error {
		kind, n := i%kinds, i/kinds
		t := time.Now()
		var err error
		var id string
		switch kind {
		case 0:
			err = e.floor(ctx)
		case 1:
			id, err = e.transfer(ctx, e.server.URL, fresh[n], e.targets[n%len(e.targets)])
		case 2:
			_, err = e.transfer(ctx, e.server.URL, cached[n], e.targets[n%len(e.targets)])
		}
		d := time.Since(t)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs[kind]++
			return err
		}
		samples[kind] = append(samples[kind], d)
		if id != "" {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		// Counted in the figures (a refusal or 5xx under load is a finding),
		// not fatal to the run.
		slog.WarnContext(ctx, "errors under load", "concurrency", c, "first", err)
	}
	if len(ids) == 0 {
		return lr, errors.New("no transfer succeeded")
	}
	// Interleaved, the kinds share one throughput: that of the mix.
	lr.Floor = Summarize(samples[0], errs[0], 0)
	lr.Transfer = Summarize(samples[1], errs[1], 0)
	lr.TransferCached = Summarize(samples[2], errs[2], 0)
	lr.MixPerSecond = float64(len(samples[0])+len(samples[1])+len(samples[2])) / wall.Seconds()

	s, nerr, wall, err := phase(ctx, c, opt.Requests, opt.PhaseLimit, func(ctx context.Context, i int) error {
		_, err := e.status(ctx, e.server.URL, ids[i%len(ids)])
		return err
	})
	if err != nil {
		slog.WarnContext(ctx, "errors under load", "concurrency", c, "first", err)
	}
	lr.Status = Summarize(s, nerr, wall)
	return lr, nil
}

// finalizedNotifier records when each synchronization was finalized, and how.
type finalizedNotifier struct {
	mu      sync.Mutex
	at      map[string]time.Time
	results map[string]transfer.Result
	waiting map[string]chan struct{}
}

func newFinalizedNotifier() *finalizedNotifier {
	return &finalizedNotifier{at: map[string]time.Time{}, results: map[string]transfer.Result{}, waiting: map[string]chan struct{}{}}
}

func (n *finalizedNotifier) Finalized(_ context.Context, s transfer.Synchronization) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.at[s.ID] = time.Now()
	n.results[s.ID] = s.Result
	if ch, ok := n.waiting[s.ID]; ok {
		close(ch)
		delete(n.waiting, s.ID)
	}
}

// await returns a channel closed once id is finalized.
func (n *finalizedNotifier) await(id string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch := make(chan struct{})
	if _, ok := n.at[id]; ok {
		close(ch)
	} else {
		n.waiting[id] = ch
	}
	return ch
}

// wait blocks until id is finalized, or limit, and tells when and how.
func (n *finalizedNotifier) wait(ctx context.Context, id string, limit time.Duration) (time.Time, transfer.Result, error) {
	select {
	case <-n.await(id):
	case <-time.After(limit):
		return time.Time{}, "", fmt.Errorf("synchronization %s not finalized within %v", id, limit)
	case <-ctx.Done():
		return time.Time{}, "", ctx.Err()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.at[id], n.results[id], nil
}

// withProcessor runs f with the processor fed by a poller as in `make run`,
// its finalizations told to the notifier f gets.
func (e *Env) withProcessor(ctx context.Context, f func(*finalizedNotifier) error) error {
	notifier := newFinalizedNotifier()
	procCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	p := &queue.Poller{
		SQS: e.stack.Clients.SQS, QueueURL: e.res.TransferQueueURL(), Wait: time.Second,
		Handler: inprocess.New(e.cfg, e.stack.Clients).ProcessorBatchHandler(transfer.WithNotifier(notifier)),
	}
	go func() { defer close(done); _ = p.Run(procCtx) }()
	defer func() { stop(); <-done }()
	return f(notifier)
}

// finalized times transfers, one at a time, from their 202 to the commit of
// their finalization.
func (e *Env) finalized(ctx context.Context, opt LoadOptions, notifier *finalizedNotifier) (Latencies, error) {
	txs, err := e.takeTxs(opt.Finalized)
	if err != nil {
		return Latencies{}, err
	}
	var samples []time.Duration
	start := time.Now()
	for i, tx := range txs {
		id, err := e.transfer(ctx, e.server.URL, tx, e.targets[i%len(e.targets)])
		if err != nil {
			return Latencies{}, err
		}
		accepted := time.Now()
		at, _, err := notifier.wait(ctx, id, 20*time.Second)
		if err != nil {
			return Latencies{}, err
		}
		// The processor may commit before the 202 reaches the client.
		samples = append(samples, max(at.Sub(accepted), 0))
		if time.Since(start) > opt.PhaseLimit {
			break
		}
	}
	return Summarize(samples, 0, time.Since(start)), nil
}
