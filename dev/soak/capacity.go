package soak

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/acme/purchase-transfer/dev/bench"
	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// CapacityResult is sustained throughput at saturation: transfers accepted
// and finalized per second end to end, and the same round trips done raw
// against the same emulators at the same concurrency, in the same run.
type CapacityResult struct {
	Clients, Batches      int     // concurrent clients; concurrent processor batches
	EndToEnd, Raw         int     // transfers accepted and finalized
	EndToEndPerS, RawPerS float64 // of them per second, first request to last finalization
	Ratio                 float64 // EndToEndPerS / RawPerS (goal ≥ 0.8)
	Refused               int     // answers other than 202 end to end (429 REQ0007 included)
	AcceptP50, AcceptP99  time.Duration
	// Where the time goes: each process role's round trips (and webhook
	// messages) during the end-to-end half, and the CPU each process used
	// in each half, with the halves' wall times.
	EndToEndCalls         map[string]map[string]Tick
	EndToEndCPU, RawCPU   cpuSample
	EndToEndWall, RawWall time.Duration
}

const capacityPublisher = transfer.PublisherID(300000002)

// capacity measures end to end, then raw, each for opt.Capacity, without
// faults (the soak has healed).
func (e *env) capacity(ctx context.Context, opt Options, cons []*consumers) (CapacityResult, error) {
	res := CapacityResult{Clients: opt.Clients, Batches: inprocess.QueueConcurrency(e.stack.Template, localaws.TransferQueueID)}
	// Enough purchases that the clients never run out: 150/s is well above
	// what two cores reach.
	n := int(150 * opt.Capacity.Seconds())
	token, txs, err := e.seedCapacity(ctx, n)
	if err != nil {
		return res, err
	}
	meters := func() map[string]map[string]Tick {
		m := map[string]map[string]Tick{"soak (API, sweepers)": e.meter.Snapshot()}
		for _, c := range cons {
			m[c.role] = c.meter.Snapshot()
		}
		return m
	}
	calls, cpu, t0 := meters(), e.sampleCPU(cons), time.Now()
	if err := e.endToEnd(ctx, opt, token, txs, &res); err != nil {
		return res, err
	}
	// The consumers report each second: wait for their last counts.
	waitReports(cons, 10*time.Second)
	res.EndToEndCalls = diffMeters(meters(), calls)
	cpu1, t1 := e.sampleCPU(cons), time.Now()
	res.EndToEndCPU, res.EndToEndWall = cpu1.since(cpu), t1.Sub(t0)
	if err := e.raw(ctx, opt, txs, &res); err != nil {
		return res, err
	}
	res.RawCPU, res.RawWall = e.sampleCPU(cons).since(cpu1), time.Since(t1)
	if res.RawPerS > 0 {
		res.Ratio = res.EndToEndPerS / res.RawPerS
	}
	return res, nil
}

// waitReports waits until every consumer process has reported twice more,
// so that all it did until now is counted (at most timeout: the counts are
// a measurement, and a late one only shows in the next half).
func waitReports(cons []*consumers, timeout time.Duration) {
	before := make([]int64, len(cons))
	for i, c := range cons {
		before[i] = c.meter.Reports()
	}
	deadline := time.Now().Add(timeout)
	for i := 0; i < len(cons) && time.Now().Before(deadline); {
		if cons[i].meter.Reports() >= before[i]+2*int64(len(cons[i].pids())) {
			i++
			continue
		}
		time.Sleep(50 * time.Millisecond) // a poll with a deadline
	}
}

// capacityTargets is how many customers the capacity clients transfer to,
// each in turn, as a publisher's many subscribers are. Every transfer
// writes its target's counter and item in both of its transactions, and
// DynamoDB answers TransactionConflict to a transaction touching an item
// another one has in flight: all to one customer, the transactions queue on
// that customer (measured: 37.9/s end to end against 74.8/s raw, ratio
// 0.51, TransactWriteItems 396 ms on average) and the figure would be that
// customer's ceiling, not the service's.
const capacityTargets = 256

// capacityTarget is the customer the i-th capacity transfer goes to.
func capacityTarget(i int) transfer.CustomerID {
	return transfer.CustomerID(810000002 + i%capacityTargets)
}

func (e *env) seedCapacity(ctx context.Context, n int) (string, []string, error) {
	store := e.checkSvc.Stores.Operator
	token, hash := auth.NewPublisherToken(capacityPublisher)
	if err := store.PutPublisher(ctx, transfer.Publisher{ID: capacityPublisher, Name: "Capacity", StoreKit2Active: true}); err != nil {
		return "", nil, err
	}
	if err := store.PutToken(ctx, capacityPublisher, hash, "capacity"); err != nil {
		return "", nil, err
	}
	customers := []transfer.CustomerID{810000001}
	for i := range capacityTargets {
		customers = append(customers, capacityTarget(i))
	}
	if err := store.PutCustomers(ctx, capacityPublisher, customers...); err != nil {
		return "", nil, err
	}
	txs := make([]string, n)
	expires := time.Now().AddDate(0, 1, 0).UTC().Truncate(time.Second)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				txs[i] = fmt.Sprintf("5%015d", i+1)
				if err := store.PutPurchase(ctx, transfer.Purchase{PublisherID: capacityPublisher, OriginalTransactionID: "otx-" + txs[i],
					TransactionIDs: []string{txs[i]}, Owner: 810000001, OfferID: offerID, ProductID: productID,
					Kind: transfer.KindAutoRenewable, State: transfer.StateActive, ExpiresAt: expires}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return "", nil, fmt.Errorf("seed capacity: %w", err)
	}
	return token, txs, nil
}

// endToEnd: the clients transfer fresh purchases as fast as they are
// answered for opt.Capacity; then every accepted one must finalize.
func (e *env) endToEnd(ctx context.Context, opt Options, token string, txs []string, res *CapacityResult) error {
	httpClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: opt.Clients + 2}}
	var next atomic.Int64
	var mu sync.Mutex
	var ids []string
	var took []time.Duration
	start := time.Now()
	stop := start.Add(opt.Capacity)
	var wg sync.WaitGroup
	for range opt.Clients {
		wg.Go(func() {
			for time.Now().Before(stop) && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(txs) {
					return
				}
				body := fmt.Sprintf(`{"cleengCustomerId":%d,"transactionId":%q}`, capacityTarget(i), txs[i])
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.apiURL+"/purchases/transfers", stringReader(body))
				req.Header.Set("X-Publisher-Token", token)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := httpClient.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode == http.StatusAccepted {
					ids = append(ids, txs[i])
					took = append(took, time.Since(t0))
				} else {
					res.Refused++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	lat := bench.Summarize(took, 0, 0)
	res.AcceptP50, res.AcceptP99 = lat.P50, lat.P99
	res.EndToEnd = len(ids)
	last, err := e.waitCapacityFinalized(ctx, len(ids), opt.DrainTimeout)
	if err != nil {
		return err
	}
	if wall := last.Sub(start); wall > 0 {
		res.EndToEndPerS = float64(res.EndToEnd) / wall.Seconds()
	}
	return nil
}

// waitCapacityFinalized polls until n synchronizations of the capacity
// publisher are finalized and returns when the last of them was.
func (e *env) waitCapacityFinalized(ctx context.Context, n int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	prefix := fmt.Sprintf("PUB#%d#SYNC#", capacityPublisher)
	for {
		// The table is scanned only once the transfer queue is empty: a scan
		// every poll would compete with the processor for DynamoDB Local
		// while the backlog drains, and slow down what it measures.
		if depth, err := e.depth(ctx, e.res.TransferQueueURL()); err != nil {
			return time.Time{}, err
		} else if depth > 0 && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return time.Time{}, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		var done int
		var last time.Time
		p := dynamodb.NewScanPaginator(e.clean.DynamoDB, &dynamodb.ScanInput{TableName: &e.res.Table,
			FilterExpression:          aws.String("begins_with(pk, :p) AND #s = :f"),
			ExpressionAttributeNames:  map[string]string{"#s": "status"},
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":p": &dbtypes.AttributeValueMemberS{Value: prefix}, ":f": &dbtypes.AttributeValueMemberS{Value: "finalized"}},
			ProjectionExpression:      aws.String("finalizedAt")})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return time.Time{}, err
			}
			for _, it := range page.Items {
				done++
				if v, ok := it["finalizedAt"].(*dbtypes.AttributeValueMemberS); ok {
					if t, err := time.Parse(time.RFC3339Nano, v.Value); err == nil && t.After(last) {
						last = t
					}
				}
			}
		}
		if done >= n {
			return last, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("capacity: %d of %d transfers finalized in %s", done, n, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// raw does what a transfer costs the emulators, by hand, at the same
// concurrency: the clients each a BatchGetItem (credentials, chain), the
// accepting TransactWriteItems and SendMessage; as many consumers as the
// processor's batches each a ReceiveMessage, per message a BatchGetItem
// (record, locks, purchase) and the finalizing TransactWriteItems (record,
// both locks, the event), then a SendMessage (the webhook's hand-off) and a
// DeleteMessageBatch; and as many consumers as the webhook function's
// batches taking the hand-offs as it does (rawDispatch).
func (e *env) raw(ctx context.Context, opt Options, txs []string, res *CapacityResult) error {
	db, q := e.clean.DynamoDB, e.clean.SQS
	jobs, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("soak-raw-" + rand.Text()[:8])})
	if err != nil {
		return err
	}
	hooks, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("soak-raw-hooks-" + rand.Text()[:8])})
	if err != nil {
		return err
	}
	table := e.res.Table
	pub := "PUB#" + strconv.FormatInt(int64(capacityPublisher), 10)
	start := time.Now()
	stop := start.Add(opt.Capacity)
	var accepted, finalized atomic.Int64
	var lastNanos atomic.Int64
	var producers sync.WaitGroup
	var next atomic.Int64
	for range opt.Clients {
		producers.Go(func() {
			for time.Now().Before(stop) && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				tx := txs[i%len(txs)]
				customerPK := fmt.Sprintf("PUB#%d#CUSTOMER#%d", capacityPublisher, capacityTarget(i))
				_, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]dbtypes.KeysAndAttributes{table: {Keys: []map[string]dbtypes.AttributeValue{
					rawKey(pub, "PUBLISHER"), rawKey(pub, "TOKEN#0"), rawKey(pub+"#TX#"+tx, "TX"), rawKey(pub+"#PURCHASE#"+tx, "PURCHASE")}}}})
				id := rand.Text()
				if err == nil {
					_, err = db.TransactWriteItems(ctx, bench.FloorTransaction(table, id, customerPK, "CUSTOMER", time.Now()))
				}
				if err == nil {
					_, err = q.SendMessage(ctx, bench.FloorMessage(aws.ToString(jobs.QueueUrl), id))
				}
				if err == nil {
					accepted.Add(1)
				}
			}
		})
	}
	consumeCtx, stopConsuming := context.WithCancel(ctx)
	defer stopConsuming()
	var consumers sync.WaitGroup
	for range res.Batches {
		consumers.Go(func() {
			consumeRaw(consumeCtx, q, jobs.QueueUrl, func(m sqstypes.Message) {
				if e.rawFinalize(consumeCtx, table, m, aws.ToString(hooks.QueueUrl)) == nil {
					finalized.Add(1)
					lastNanos.Store(time.Now().UnixNano())
				}
			})
		})
	}
	// The webhook function's round trips for each hand-off, as it makes them
	// for a publisher without endpoints (the capacity publisher has none):
	// the event and the endpoints read at once, the event marked dispatched.
	// End to end, every finalized transfer costs them too, on the same
	// emulators; left out, the raw ceiling would not be the same round trips.
	for range inprocess.QueueConcurrency(e.stack.Template, webhookQueueID) {
		consumers.Go(func() {
			consumeRaw(consumeCtx, q, hooks.QueueUrl, func(m sqstypes.Message) { _ = e.rawDispatch(consumeCtx, table, pub, m) })
		})
	}
	producers.Wait()
	deadline := time.Now().Add(opt.DrainTimeout)
	for finalized.Load() < accepted.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond) // a poll with a deadline
	}
	stopConsuming()
	consumers.Wait()
	res.Raw = int(finalized.Load())
	if wall := time.Unix(0, lastNanos.Load()).Sub(start); wall > 0 {
		res.RawPerS = float64(res.Raw) / wall.Seconds()
	}
	_, _ = q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: jobs.QueueUrl})
	_, _ = q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: hooks.QueueUrl})
	return nil
}

// The raw halves' attribute values and keys.
func attrS(v string) dbtypes.AttributeValue { return &dbtypes.AttributeValueMemberS{Value: v} }
func attrN(v string) dbtypes.AttributeValue { return &dbtypes.AttributeValueMemberN{Value: v} }
func rawKey(pk, sk string) map[string]dbtypes.AttributeValue {
	return map[string]dbtypes.AttributeValue{"pk": attrS(pk), "sk": attrS(sk)}
}

// consumeRaw is one batch of an event source mapping, by hand, until ctx
// ends: up to 10 messages received, handled at once, deleted together.
func consumeRaw(ctx context.Context, q *sqs.Client, url *string, handle func(sqstypes.Message)) {
	for ctx.Err() == nil {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil || len(out.Messages) == 0 {
			continue
		}
		var each sync.WaitGroup
		for _, m := range out.Messages {
			each.Go(func() { handle(m) })
		}
		each.Wait()
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		_, _ = q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: entries})
	}
}

// rawDispatch is the webhook function's round trips for one hand-off of a
// publisher without endpoints, by hand: GetItem of the event and Query of
// the publisher's endpoints at once, then the event's UpdateItem.
func (e *env) rawDispatch(ctx context.Context, table, pub string, m sqstypes.Message) error {
	var msg struct{ SynchronizationID string }
	if err := decodeJSON(stringReader(aws.ToString(m.Body)), &msg); err != nil {
		return err
	}
	key := rawKey("PUB#100000001#FLOOR#"+msg.SynchronizationID+"#SYNC", "EVENT#inappPurchaseSyncResult")
	var both sync.WaitGroup
	var getErr, queryErr error
	both.Go(func() {
		_, getErr = e.clean.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
	})
	both.Go(func() {
		_, queryErr = e.clean.DynamoDB.Query(ctx, &dynamodb.QueryInput{TableName: &table, ConsistentRead: aws.Bool(true),
			KeyConditionExpression:    aws.String("pk = :p AND begins_with(sk, :w)"),
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":p": attrS(pub), ":w": attrS("WEBHOOK#")}})
	})
	both.Wait()
	if err := errors.Join(getErr, queryErr); err != nil {
		return err
	}
	_, err := e.clean.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key,
		UpdateExpression:          aws.String("SET dispatchedAt = :t REMOVE pendingShard, pendingSince"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":t": attrS(time.Now().UTC().Format(time.RFC3339Nano))}})
	return err
}

// rawFinalize is the processor's round trips for one message, by hand.
func (e *env) rawFinalize(ctx context.Context, table string, m sqstypes.Message, hooksURL string) error {
	var job struct{ SynchronizationID string }
	if err := decodeJSON(stringReader(aws.ToString(m.Body)), &job); err != nil {
		return err
	}
	prefix := "PUB#100000001#FLOOR#" + job.SynchronizationID
	if _, err := e.clean.DynamoDB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]dbtypes.KeysAndAttributes{table: {ConsistentRead: aws.Bool(true),
		Keys: []map[string]dbtypes.AttributeValue{rawKey(prefix+"#SYNC", "SYNC"), rawKey(prefix+"#TX", "LOCK"), rawKey(prefix+"#PURCHASE", "LOCK"), rawKey(prefix+"#PURCHASE", "PURCHASE")}}}}); err != nil {
		return err
	}
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	countDown := func(pk string) dbtypes.TransactWriteItem {
		return dbtypes.TransactWriteItem{Update: &dbtypes.Update{TableName: &table, Key: rawKey(pk, "UNFINISHED"),
			UpdateExpression: aws.String("ADD unfinished :minus"), ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":minus": attrN("-1")}}}
	}
	owned := "synchronizationId = :me"
	me := map[string]dbtypes.AttributeValue{":me": attrS(job.SynchronizationID)}
	_, err := e.clean.DynamoDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []dbtypes.TransactWriteItem{
		{Update: &dbtypes.Update{TableName: &table, Key: rawKey(prefix+"#SYNC", "SYNC"),
			UpdateExpression:          aws.String("SET #s = :f, finalizedAt = :t REMOVE openShard, openSince"),
			ConditionExpression:       aws.String("#s <> :f"),
			ExpressionAttributeNames:  map[string]string{"#s": "status"},
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":f": attrS("finalized"), ":t": attrS(stamp)}}},
		{Delete: &dbtypes.Delete{TableName: &table, Key: rawKey(prefix+"#TX", "LOCK"), ConditionExpression: &owned, ExpressionAttributeValues: me}},
		{Delete: &dbtypes.Delete{TableName: &table, Key: rawKey(prefix+"#PURCHASE", "LOCK"), ConditionExpression: &owned, ExpressionAttributeValues: me}},
		{Put: &dbtypes.Put{TableName: &table, Item: map[string]dbtypes.AttributeValue{"pk": attrS(prefix + "#SYNC"), "sk": attrS("EVENT#inappPurchaseSyncResult"),
			"eventId": attrS("evt_" + job.SynchronizationID)}, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		// The owner's change, its history entry, the target's activity and
		// the two counts taken down, on fresh items: the processor's
		// transaction writes these nine items, and DynamoDB Local does one
		// write at a time, so a lighter raw transaction would not be the same
		// round trip.
		{Update: &dbtypes.Update{TableName: &table, Key: rawKey(prefix+"#PURCHASE", "PURCHASE"),
			UpdateExpression:          aws.String("SET ownerCustomerId = :to, ownerPk = :opk, version = :v, updatedAt = :t"),
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":to": attrN("810000002"), ":opk": attrS(prefix + "#CUSTOMER"), ":v": attrN("2"), ":t": attrS(stamp)}}},
		{Put: &dbtypes.Put{TableName: &table, Item: map[string]dbtypes.AttributeValue{"pk": attrS(prefix + "#PURCHASE"), "sk": attrS("HISTORY#" + stamp + "#" + job.SynchronizationID),
			"publisherId": attrN("100000001"), "originalTransactionId": attrS("otx-" + job.SynchronizationID), "from": attrN("810000001"), "to": attrN("810000002"),
			"synchronizationId": attrS(job.SynchronizationID), "at": attrS(stamp)}, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Update: &dbtypes.Update{TableName: &table, Key: rawKey(prefix+"#CUSTOMER", "CUSTOMER"),
			UpdateExpression:          aws.String("SET lastIpAddress = :ip, lastActivityAt = :t"),
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":ip": attrS("203.0.113.7"), ":t": attrS(stamp)}}},
		countDown(prefix + "#CUSTOMER"),
		countDown(prefix + "#UNFINISHED"),
	}})
	if err != nil {
		return err
	}
	body := `{"kind":"dispatch","publisherId":100000001,"synchronizationId":"` + job.SynchronizationID + `"}`
	_, err = e.clean.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &hooksURL, MessageBody: &body})
	return err
}

func (c CapacityResult) print(out io.Writer) {
	fmt.Fprintf(out, "\ncapacity at saturation (%d clients, %d processor batches at once, no faults):\n", c.Clients, c.Batches)
	fmt.Fprintf(out, "  end to end: %d transfers accepted and finalized, %.1f/s (accept p50 %.1f ms, p99 %.1f ms; %d refused)\n",
		c.EndToEnd, c.EndToEndPerS, msf(c.AcceptP50), msf(c.AcceptP99), c.Refused)
	fmt.Fprintf(out, "  raw round trips, same concurrency (the webhook hand-off's consumption included): %d, %.1f/s\n", c.Raw, c.RawPerS)
	fmt.Fprintf(out, "  ratio: %.2f (goal ≥ 0.8)\n", c.Ratio)
	if c.EndToEnd > 0 && len(c.EndToEndCalls) > 0 {
		fmt.Fprintf(out, "  end to end, per transfer finalized (raw: 2 BatchGetItem, 2 TransactWriteItems (of 6 and 9 items, as the transfer's and the processor's), 2 SendMessage, a GetItem, a Query and an UpdateItem, and the queues' receives and deletes):\n")
		for _, role := range sortedKeys(c.EndToEndCalls) {
			var parts []string
			for _, n := range sortedKeys(c.EndToEndCalls[role]) {
				t := c.EndToEndCalls[role][n]
				if !roundTrip(n) && !strings.HasPrefix(n, "message ") {
					continue
				}
				parts = append(parts, fmt.Sprintf("%s %.2f (%.0f ms)", n, float64(t.N)/float64(c.EndToEnd), msf(t.Mean())))
			}
			if len(parts) > 0 {
				fmt.Fprintf(out, "    %s: %s\n", role, strings.Join(parts, ", "))
			}
		}
	}
	if len(c.EndToEndCPU) > 0 {
		fmt.Fprintf(out, "  CPU used (s of CPU per s of wall; 2 cores = 2.0), end to end over %s | raw over %s:\n",
			c.EndToEndWall.Round(time.Second), c.RawWall.Round(time.Second))
		for _, k := range sortedKeys(c.EndToEndCPU) {
			fmt.Fprintf(out, "    %-40s %5.2f | %5.2f\n", k, perWall(c.EndToEndCPU[k], c.EndToEndWall), perWall(c.RawCPU[k], c.RawWall))
		}
	}
}

func perWall(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return cpu.Seconds() / wall.Seconds()
}

// diffMeters is what each role counted from before to after.
func diffMeters(after, before map[string]map[string]Tick) map[string]map[string]Tick {
	out := map[string]map[string]Tick{}
	for role, ticks := range after {
		for n, t := range ticks {
			b := before[role][n]
			if d := (Tick{N: t.N - b.N, Nanos: t.Nanos - b.Nanos}); d.N > 0 {
				if out[role] == nil {
					out[role] = map[string]Tick{}
				}
				out[role][n] = d
			}
		}
	}
	return out
}
