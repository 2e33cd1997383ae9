package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// world is what the clients share: the seeded data, what was accepted, and
// the counts.
type world struct {
	mu        sync.Mutex
	pub       transfer.PublisherID
	token     string
	customers []transfer.CustomerID
	purchases []*purchase
	byOTX     map[string]*purchase
	nextTx    int
	accepted  []*accepted
	byID      map[string]*accepted
	loadEnd   time.Time
	stats     *stats
	// pace, when set, spaces the clients' operations to a steady rate
	// (Options.Rate); nil lets each client go as fast as it is answered.
	pace *rate.Limiter
}

// accepted is a request answered 202.
type accepted struct {
	id      string
	corr    string
	headers map[string]string
	body    string
	target  transfer.CustomerID
	tx      string
}

func newWorld() *world {
	return &world{byOTX: map[string]*purchase{}, byID: map[string]*accepted{}, stats: newStats()}
}

// answer is one HTTP answer of the API.
type answer struct {
	status     int
	code       string
	body       map[string]any
	retryAfter time.Duration
	err        error
}

// Internal errors are S and four digits (docs/contract.md §1).
var internalCode = regexp.MustCompile(`^S[0-9]{4}$`)

// client is one of the workload's concurrent clients.
type client struct {
	n    int
	w    *world
	api  string
	http *http.Client
	rnd  *rand.Rand
	seq  int
	jwt  []byte
}

func (c *client) send(ctx context.Context, op, method, path string, headers map[string]string, body string) answer {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.api+path, rd)
	if err != nil {
		return answer{err: err}
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.w.stats.answer(op, "error", 0)
		return answer{err: err}
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{status: resp.StatusCode}
	_ = json.Unmarshal(raw, &a.body)
	a.code, _ = a.body["code"].(string)
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		a.retryAfter = time.Duration(s) * time.Second
	}
	c.w.stats.answer(op, strings.TrimSpace(fmt.Sprintf("%d %s", a.status, a.code)), time.Since(start))
	if a.status >= 500 && !internalCode.MatchString(a.code) {
		c.w.stats.violation("a 5xx whose body is not a documented S####", fmt.Sprintf("%s %d %s", op, a.status, raw))
	}
	return a
}

func (c *client) pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// run does random operations until the load ends.
func (c *client) run(ctx context.Context) {
	for time.Now().Before(c.w.loadEnd) && ctx.Err() == nil {
		if c.w.pace != nil {
			wctx, cancel := context.WithDeadline(ctx, c.w.loadEnd)
			err := c.w.pace.Wait(wctx)
			cancel()
			if err != nil {
				return
			}
		}
		switch r := c.rnd.IntN(100); {
		case r < 45:
			c.transferByToken(ctx)
		case r < 55:
			c.transferByJWT(ctx)
		case r < 65:
			c.replay(ctx)
		case r < 70:
			c.reuse(ctx)
		default:
			c.poll(ctx)
		}
	}
}

// pick is a purchase and one of its transactionIds: mostly the few hot
// purchases, so that transfers contend.
func (c *client) pick() (*purchase, string) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	var p *purchase
	hot := 0
	for hot < len(c.w.purchases) && c.w.purchases[hot].hot {
		hot++
	}
	if hot > 0 && c.rnd.IntN(100) < 60 {
		p = c.w.purchases[c.rnd.IntN(hot)]
	} else {
		p = c.w.purchases[c.rnd.IntN(len(c.w.purchases))]
	}
	return p, p.txs[c.rnd.IntN(len(p.txs))]
}

func (c *client) customer() transfer.CustomerID {
	return c.w.customers[c.rnd.IntN(len(c.w.customers))]
}

func (c *client) corrID() string {
	c.seq++
	return fmt.Sprintf("soak-%d-%d-%d", c.n, c.seq, c.rnd.IntN(1_000_000))
}

func transferBody(target transfer.CustomerID, tx string, ip bool) string {
	if ip {
		return fmt.Sprintf(`{"cleengCustomerId":%d,"transactionId":%q,"ipAddress":"203.0.113.%d"}`, target, tx, target%250+1)
	}
	return fmt.Sprintf(`{"cleengCustomerId":%d,"transactionId":%q}`, target, tx)
}

func (c *client) tokenHeaders() map[string]string {
	return map[string]string{"X-Publisher-Token": c.w.token, "Content-Type": "application/json"}
}

func (c *client) jwtHeaders(customer transfer.CustomerID) map[string]string {
	tok, err := auth.MintHS256(c.jwt, c.w.pub, customer, time.Hour)
	if err != nil {
		panic(err) // only a broken key fails, and the soak made it
	}
	return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
}

func (c *client) transferByToken(ctx context.Context) {
	_, tx := c.pick()
	if c.rnd.IntN(30) == 0 {
		tx = "9" + strconv.Itoa(1_000_000+c.rnd.IntN(1_000_000)) // nobody's
	}
	target := c.customer()
	corr := ""
	if c.rnd.IntN(5) > 0 {
		corr = c.corrID()
	}
	c.transfer(ctx, c.tokenHeaders(), corr, transferBody(target, tx, c.rnd.IntN(2) == 0), target, tx)
}

func (c *client) transferByJWT(ctx context.Context) {
	_, tx := c.pick()
	target := c.customer()
	c.transfer(ctx, c.jwtHeaders(target), c.corrID(), transferBody(target, tx, false), target, tx)
}

func (c *client) transfer(ctx context.Context, headers map[string]string, corr, body string, target transfer.CustomerID, tx string) {
	if corr != "" {
		headers["Correlation-Id"] = corr
	}
	a := c.send(ctx, "transfer", http.MethodPost, "/purchases/transfers", headers, body)
	switch {
	case a.status == http.StatusAccepted:
		c.accept(a, &accepted{corr: corr, headers: headers, body: body, target: target, tx: tx})
	case a.status >= 500 && corr != "":
		c.retry5xx(ctx, &accepted{corr: corr, headers: headers, body: body, target: target, tx: tx})
	case a.status == http.StatusTooManyRequests:
		c.honor(ctx, a)
	}
}

// honor waits as Retry-After asks (REQ0007), bounded by the load's end.
func (c *client) honor(ctx context.Context, a answer) {
	wait := a.retryAfter
	if wait <= 0 {
		wait = time.Second
	}
	c.pause(ctx, min(wait, time.Until(c.w.loadEnd)))
}

func (c *client) accept(a answer, req *accepted) {
	id, _ := a.body["synchronizationId"].(string)
	if id == "" || (req.corr != "" && id != req.corr) {
		c.w.stats.violation("a 202 without its synchronizationId", fmt.Sprintf("%q for Correlation-Id %q", id, req.corr))
		return
	}
	req.id = id
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	if prev, ok := c.w.byID[id]; ok {
		if prev.body != req.body {
			c.w.stats.violation("a Correlation-Id accepted for two bodies", id)
		}
		return
	}
	c.w.byID[id] = req
	c.w.accepted = append(c.w.accepted, req)
}

// retry5xx retries a request answered 5xx with the same Correlation-Id and
// body, as a client should, until it is answered. Refusals because the
// purchase is locked are fine while others hold it, but not past what the
// lock lease allows once the load has stopped contending.
func (c *client) retry5xx(ctx context.Context, req *accepted) {
	first := time.Now()
	deadline := first.Add(lockLease)
	if c.w.loadEnd.After(deadline) {
		deadline = c.w.loadEnd
	}
	deadline = deadline.Add(30 * time.Second)
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		c.pause(ctx, backoff)
		backoff = min(backoff*2, 2*time.Second)
		a := c.send(ctx, "transfer (retry of a 5xx)", http.MethodPost, "/purchases/transfers", req.headers, req.body)
		switch {
		case a.status == http.StatusAccepted:
			c.accept(a, req)
			return
		case a.status == http.StatusTooManyRequests:
			c.pause(ctx, max(a.retryAfter, time.Second))
		case a.status >= 500, a.code == string(transfer.CodeTransactionLocked), a.code == string(transfer.CodePurchaseLocked), a.err != nil:
		default:
			return
		}
		if time.Now().After(deadline) {
			c.w.stats.violation("a 5xx retried with its Correlation-Id refused past the lock lease",
				fmt.Sprintf("%s refused for %s (last %d %s)", req.corr, time.Since(first).Round(time.Second), a.status, a.code))
			return
		}
	}
}

// someAccepted is a random accepted request with a Correlation-Id.
func (c *client) someAccepted() *accepted {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	for range 5 {
		if len(c.w.accepted) == 0 {
			return nil
		}
		if a := c.w.accepted[c.rnd.IntN(len(c.w.accepted))]; a.corr != "" {
			return a
		}
	}
	return nil
}

// replay sends an accepted request again, Correlation-Id and body alike: the
// same id, and no new work.
func (c *client) replay(ctx context.Context) {
	prev := c.someAccepted()
	if prev == nil {
		c.transferByToken(ctx)
		return
	}
	a := c.send(ctx, "replay", http.MethodPost, "/purchases/transfers", prev.headers, prev.body)
	if a.status == http.StatusAccepted {
		if id, _ := a.body["synchronizationId"].(string); id != prev.id {
			c.w.stats.violation("a replay answered with another id", fmt.Sprintf("%s answered %s", prev.id, id))
		}
	}
	if a.status == http.StatusTooManyRequests {
		c.honor(ctx, a)
	}
}

// reuse sends an accepted request's Correlation-Id with another body: never
// accepted.
func (c *client) reuse(ctx context.Context) {
	prev := c.someAccepted()
	if prev == nil {
		c.poll(ctx)
		return
	}
	other := c.customer()
	if _, isJWT := prev.headers["Authorization"]; isJWT {
		other = prev.target // the token's customer: another transactionId instead
	}
	_, tx := c.pick()
	body := transferBody(other, tx, false)
	if body == prev.body {
		return
	}
	a := c.send(ctx, "reuse", http.MethodPost, "/purchases/transfers", prev.headers, body)
	if a.status == http.StatusAccepted {
		c.w.stats.violation("a reused Correlation-Id accepted for another body", prev.id)
	}
}

// poll asks for a random accepted synchronization, as the publisher or as
// its target customer; another customer must not see it.
func (c *client) poll(ctx context.Context) {
	prev := c.someAccepted()
	if prev == nil {
		c.transferByToken(ctx)
		return
	}
	headers, want := c.tokenHeaders(), http.StatusOK
	switch c.rnd.IntN(4) {
	case 0:
		headers = c.jwtHeaders(prev.target)
	case 1:
		if other := c.customer(); other != prev.target {
			headers, want = c.jwtHeaders(other), http.StatusNotFound
		}
	}
	a := c.send(ctx, "status", http.MethodGet, "/purchases/synchronizations/"+prev.id, headers, "")
	if a.err == nil && a.status < 500 && a.status != want {
		c.w.stats.violation("a status answer other than the synchronization's", fmt.Sprintf("%s: %d %s, want %d", prev.id, a.status, a.code, want))
	}
}
