package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// The bounds on unfinished synchronizations (docs/contract.md §1.8, REQ0007).

func withLimits(l transfer.Limits) envOption {
	return func(c *envConfig) { c.cfg.Limits = l }
}

// transferAll sends the requests at once (after a barrier) and returns the
// answers in their order.
func transferAll(e *env, headers []map[string]string, bodies []string) []response {
	out := make([]response, len(bodies))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() {
			<-start
			out[i] = e.transfer(headers[i], bodies[i])
		})
	}
	close(start)
	wg.Wait()
	return out
}

// unfinished reads the counters of docs/data-model.md: a customer's, and
// the sum of its publisher's.
func (e *env) unfinished(p publisher, c transfer.CustomerID) (customer, publisher int) {
	e.t.Helper()
	pub := "PUB#" + strconv.FormatInt(int64(p.id), 10)
	customer = e.counter(pub + "#CUSTOMER#" + strconv.FormatInt(int64(c), 10))
	for shard := range 16 {
		publisher += e.counter(pub + "#UNFINISHED#" + strconv.Itoa(shard))
	}
	return customer, publisher
}

func (e *env) counter(pk string) int {
	e.t.Helper()
	out, err := e.db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &e.res.Table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "UNFINISHED"}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var item struct {
		Unfinished int `dynamodbav:"unfinished"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &item); err != nil {
		e.t.Fatal(err)
	}
	return item.Unfinished
}

func assertTooMany(t *testing.T, r response, field string) {
	t.Helper()
	assertError(t, r, http.StatusTooManyRequests, transfer.CodeTooManyUnfinished, field)
	if got := r.header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After %q, want 5", got)
	}
	if field == "" && strings.Contains(r.raw, `"details"`) {
		t.Errorf("details on a publisher's bound: %s", r.raw)
	}
}

// TestLimitPerCustomer: of 10 concurrent transfers to one customer with a
// bound of 3, exactly 3 are accepted; the others are 429 REQ0007 with
// Retry-After and leave no record, no lock and no message. A replay of an
// accepted one still answers 202. The processor's finalization makes room
// for one, a redelivery of its job for none; once all are finalized, the
// counts are back to zero.
func TestLimitPerCustomer(t *testing.T) {
	t.Parallel()
	const bound, racers = 3, 10
	e := newEnv(t, withLimits(transfer.Limits{PerCustomer: bound}))
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, 2)
	target := cs[1]
	jwt := map[string]string{"Authorization": "Bearer " + e.jwt(pub, target), "Content-Type": "application/json"}

	headers := make([]map[string]string, racers)
	bodies := make([]string, racers)
	for i := range racers {
		headers[i] = map[string]string{"X-Publisher-Token": pub.token, "Content-Type": "application/json",
			"Correlation-Id": fmt.Sprintf("limit-%d-%s", i, newTxID())}
		if i%2 == 1 { // the customer's own JWT counts alike
			headers[i] = map[string]string{"Authorization": jwt["Authorization"], "Content-Type": "application/json",
				"Correlation-Id": headers[i]["Correlation-Id"]}
		}
		bodies[i] = transferBody(target, newTxID())
	}
	before := e.items()
	answers := transferAll(e, headers, bodies)
	var accepted []int
	for i, r := range answers {
		if r.status == http.StatusAccepted {
			accepted = append(accepted, i)
			continue
		}
		assertTooMany(t, r, "cleengCustomerId")
		assertError(t, e.status(tokenHeader(pub), headers[i]["Correlation-Id"]), http.StatusNotFound, transfer.CodeNotFound, "")
	}
	if len(accepted) != bound {
		t.Fatalf("%d accepted of %d concurrent transfers to one customer, want exactly %d", len(accepted), racers, bound)
	}
	after := e.items()
	for _, kind := range []string{"SYNC", "LOCK"} {
		if n := len(after[kind]) - len(before[kind]); n != bound {
			t.Errorf("%d new %s items, want %d (the accepted ones')", n, kind, bound)
		}
	}
	if d := e.queueDepth(e.res.TransferQueueURL()); d != bound {
		t.Errorf("%d messages, want %d", d, bound)
	}
	if c, p := e.unfinished(pub, target); c != bound || p != bound {
		t.Errorf("counts %d (customer), %d (publisher), want %d", c, p, bound)
	}
	// The other customer has a bound of its own.
	if r := e.transfer(tokenHeader(pub), transferBody(cs[0], newTxID())); r.status != http.StatusAccepted {
		t.Errorf("another customer's transfer: %d %s", r.status, r.raw)
	}

	// A replay of an accepted Correlation-Id at the bound: 202, same id.
	first := accepted[0]
	if r := e.transfer(headers[first], bodies[first]); r.status != http.StatusAccepted || r.str("synchronizationId") != headers[first]["Correlation-Id"] {
		t.Errorf("replay at the bound: %d %s", r.status, r.raw)
	}
	assertTooMany(t, e.transfer(jwt, transferBody(target, newTxID())), "cleengCustomerId")

	// The processor finalizes one (its job handled twice: a redelivery).
	job := e.job(pub, headers[first]["Correlation-Id"])
	proc := e.svc.Processor()
	for receive := 1; receive <= 2; receive++ {
		if err := proc.Handle(context.Background(), job, receive); err != nil {
			t.Fatalf("delivery %d: %v", receive, err)
		}
	}
	if c, _ := e.unfinished(pub, target); c != bound-1 {
		t.Errorf("customer count %d after one finalization and its redelivery, want %d", c, bound-1)
	}
	if r := e.transfer(jwt, transferBody(target, newTxID())); r.status != http.StatusAccepted {
		t.Fatalf("a transfer after one finalized: %d %s", r.status, r.raw)
	}
	assertTooMany(t, e.transfer(jwt, transferBody(target, newTxID())), "cleengCustomerId")

	// Everything queued is finalized: nothing is counted any more.
	e.startProcessor()
	testkit.Eventually(t, "every synchronization finalized", 30*time.Second, func() bool {
		c, p := e.unfinished(pub, target)
		return c == 0 && p == 0 && e.queueDepth(e.res.TransferQueueURL()) == 0
	})
	for range bound {
		if r := e.transfer(jwt, transferBody(target, newTxID())); r.status != http.StatusAccepted {
			t.Errorf("after every finalization: %d %s", r.status, r.raw)
		}
	}
}

// TestLimitPerPublisher: a publisher's bound holds across its customers
// under concurrency. It is kept in 16 counters of a 16th each, so with a
// bound of 16 at most 16 of 40 concurrent transfers are accepted (each
// counter admits one), and the counters hold exactly the accepted ones.
func TestLimitPerPublisher(t *testing.T) {
	t.Parallel()
	const racers = 40
	e := newEnv(t, withLimits(transfer.Limits{PerPublisher: 16}))
	pub := e.seedPublisher(true, false)
	cs := e.seedCustomers(pub, racers)
	headers := make([]map[string]string, racers)
	bodies := make([]string, racers)
	for i := range racers {
		headers[i] = tokenHeader(pub)
		bodies[i] = transferBody(cs[i], newTxID())
	}
	accepted := 0
	for _, r := range transferAll(e, headers, bodies) {
		if r.status == http.StatusAccepted {
			accepted++
			continue
		}
		assertTooMany(t, r, "")
	}
	if accepted == 0 || accepted > 16 {
		t.Errorf("%d of %d accepted under a publisher bound of 16", accepted, racers)
	}
	if _, p := e.unfinished(pub, cs[0]); p != accepted {
		t.Errorf("publisher count %d, want the %d accepted", p, accepted)
	}
	if d := e.queueDepth(e.res.TransferQueueURL()); d != accepted {
		t.Errorf("%d messages, want %d", d, accepted)
	}
}
