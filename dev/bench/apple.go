package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// AppleRoundTrips counts the AWS requests of one verified DID_RENEW each.
type AppleRoundTrips struct {
	// Cold is a fresh container's first notification, of a known chain:
	// the publisher's app is read, then the chain, then the one write.
	Cold RoundTrips
	// Warm is the same container's next one, of another known chain that
	// this container has not seen before.
	Warm RoundTrips
	// Unknown is a warm container's notification of a chain the service
	// does not have (created unowned).
	Unknown RoundTrips
	// Duplicate is Apple's redelivery of Warm's notification.
	Duplicate RoundTrips
}

// AppleLatency is the Apple notifications endpoint at one concurrency level.
type AppleLatency struct {
	// Floor is a raw GetItem of the chain plus a raw TransactWriteItems of
	// the endpoint's three items (AppleFloorRead, AppleFloorTransaction).
	Floor Latencies
	// Notification is POST /apple/notifications/{publisherId} of a DID_RENEW
	// of a known chain, publisher cached: the floor's two calls.
	Notification Latencies
	// MixPerSecond is the throughput of the two, interleaved.
	MixPerSecond float64
}

// RenewalResult times a renewal from Apple's POST to a transfer of it.
type RenewalResult struct {
	// Applied is the DID_RENEW's 200: from then on the new transactionId
	// names the purchase.
	Applied Latencies
	// Accepted is until a transfer naming the new transactionId, sent right
	// after the 200, has its 202.
	Accepted Latencies
	// Finalized is until that transfer's finalization is committed
	// (PURCHASE_OWNERSHIP_TRANSFERRED, checked), the processor running.
	Finalized Latencies
}

// appleServer serves the Apple notifications handler of svc.
func appleServer(svc *inprocess.Service) (*httptest.Server, error) {
	h, err := svc.AppleNotificationHandler()
	if err != nil {
		return nil, fmt.Errorf("apple handler: %w", err)
	}
	return httptest.NewServer(h), nil
}

// renewal is the DID_RENEW of the seeded purchase tx, signed now, and its body.
func (e *Env) renewal(tx string) (Renewal, []byte, error) {
	r := RenewalOf(tx, fmt.Sprintf("bench-%d-%s", e.appleSeq.Add(1), tx), time.Now())
	body, err := SignRenewal(e.appleRoot, r)
	return r, body, err
}

// notify POSTs a signed notification to server and returns its outcome.
func (e *Env) notify(ctx context.Context, server string, body []byte) (appstore.Outcome, error) {
	url := server + "/apple/notifications/" + strconv.FormatInt(int64(e.publisher), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
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
		return "", fmt.Errorf("apple notification: %d %s", resp.StatusCode, raw)
	}
	var got struct{ Outcome appstore.Outcome }
	return got.Outcome, json.Unmarshal(raw, &got)
}

// notifyWant is notify, refusing any other outcome than want.
func (e *Env) notifyWant(ctx context.Context, server string, body []byte, want appstore.Outcome) error {
	got, err := e.notify(ctx, server, body)
	if err == nil && got != want {
		err = fmt.Errorf("apple notification: outcome %q, want %q", got, want)
	}
	return err
}

// appleFloor makes the endpoint's two calls for r, raw: the chain's read,
// then the transaction built from what was read.
func (e *Env) appleFloor(ctx context.Context, r Renewal) error {
	got, err := e.clients.DynamoDB.GetItem(ctx, AppleFloorRead(e.res.Table, e.publisher, r.OriginalTransactionID))
	if err != nil {
		return fmt.Errorf("apple floor read: %w", err)
	}
	if len(got.Item) == 0 {
		return fmt.Errorf("apple floor read: chain %s not found", r.OriginalTransactionID)
	}
	if _, err := e.clients.DynamoDB.TransactWriteItems(ctx, AppleFloorTransaction(e.res.Table, got.Item, r, time.Now())); err != nil {
		return fmt.Errorf("apple floor transaction: %w", err)
	}
	return nil
}

// appleRoundTrips counts the calls of DID_RENEWs in a fresh container.
func (e *Env) appleRoundTrips(ctx context.Context) (AppleRoundTrips, error) {
	var r AppleRoundTrips
	txs, err := e.takeTxs(2)
	if err != nil {
		return r, err
	}
	srv, err := appleServer(inprocess.New(e.cfg, e.clients))
	if err != nil {
		return r, err
	}
	defer srv.Close()
	steps := []struct {
		tx   string
		want appstore.Outcome
		into *RoundTrips
	}{
		{txs[0], appstore.OutcomeApplied, &r.Cold},
		{txs[1], appstore.OutcomeApplied, &r.Warm},
		// Never seeded: "3" + 15 nines is past every seeded transactionId.
		{"3999999999999999", appstore.OutcomeCreated, &r.Unknown},
	}
	var last []byte
	for _, s := range steps {
		_, body, err := e.renewal(s.tx)
		if err != nil {
			return r, err
		}
		e.counter.Take()
		if err := e.notifyWant(ctx, srv.URL, body, s.want); err != nil {
			return r, err
		}
		*s.into = e.counter.Take()
		if s.tx == txs[1] {
			last = body
		}
	}
	if err := e.notifyWant(ctx, srv.URL, last, appstore.OutcomeDuplicate); err != nil {
		return r, err
	}
	r.Duplicate = e.counter.Take()
	return r, nil
}

// appleMix sends n floors and n notifications on c workers, interleaved
// request by request like the transfer's phase, each on a chain of its own.
func (e *Env) appleMix(ctx context.Context, c, n int, limit time.Duration) (AppleLatency, error) {
	var out AppleLatency
	floorTxs, err := e.takeTxs(n)
	if err != nil {
		return out, err
	}
	noteTxs, err := e.takeTxs(n)
	if err != nil {
		return out, err
	}
	// Signed before the clock starts: Apple signs, the service verifies.
	floors := make([]Renewal, n)
	bodies := make([][]byte, n)
	for i := range n {
		if floors[i], _, err = e.renewal(floorTxs[i]); err != nil {
			return out, err
		}
		if _, bodies[i], err = e.renewal(noteTxs[i]); err != nil {
			return out, err
		}
	}
	const kinds = 2
	samples := make([][]time.Duration, kinds)
	errs := make([]int, kinds)
	var mu sync.Mutex
	_, _, wall, err := phase(ctx, c, kinds*n, limit, func(ctx context.Context, i int) error {
		kind, j := i%kinds, i/kinds
		t := time.Now()
		var err error
		if kind == 0 {
			err = e.appleFloor(ctx, floors[j])
		} else {
			err = e.notifyWant(ctx, e.appleServer.URL, bodies[j], appstore.OutcomeApplied)
		}
		d := time.Since(t)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs[kind]++
			return err
		}
		samples[kind] = append(samples[kind], d)
		return nil
	})
	if err != nil {
		slog.WarnContext(ctx, "errors under load (apple)", "concurrency", c, "first", err)
	}
	if len(samples[1]) == 0 {
		return out, errors.New("no apple notification succeeded")
	}
	out.Floor = Summarize(samples[0], errs[0], 0)
	out.Notification = Summarize(samples[1], errs[1], 0)
	out.MixPerSecond = float64(len(samples[0])+len(samples[1])) / wall.Seconds()
	return out, nil
}

// renewals times, one at a time, a DID_RENEW of an owned purchase followed at
// once by a transfer of its new transactionId, to the transfer's finalization.
func (e *Env) renewals(ctx context.Context, opt LoadOptions, notifier *finalizedNotifier) (RenewalResult, error) {
	var out RenewalResult
	txs, err := e.takeTxs(opt.Renewals)
	if err != nil {
		return out, err
	}
	var applied, accepted, finalized []time.Duration
	start := time.Now()
	for i, tx := range txs {
		r, body, err := e.renewal(tx)
		if err != nil {
			return out, err
		}
		t0 := time.Now()
		if err := e.notifyWant(ctx, e.appleServer.URL, body, appstore.OutcomeApplied); err != nil {
			return out, err
		}
		applied = append(applied, time.Since(t0))
		id, err := e.transfer(ctx, e.server.URL, r.TransactionID, e.targets[i%len(e.targets)])
		if err != nil {
			return out, fmt.Errorf("transfer of the renewal %s: %w", r.TransactionID, err)
		}
		accepted = append(accepted, time.Since(t0))
		at, result, err := notifier.wait(ctx, id, 20*time.Second)
		if err != nil {
			return out, err
		}
		if result != transfer.ResultTransferred {
			return out, fmt.Errorf("transfer of the renewal %s ended %s", r.TransactionID, result)
		}
		finalized = append(finalized, max(at.Sub(t0), 0))
		if time.Since(start) > opt.PhaseLimit {
			break
		}
	}
	wall := time.Since(start)
	out.Applied = Summarize(applied, 0, 0)
	out.Accepted = Summarize(accepted, 0, 0)
	out.Finalized = Summarize(finalized, 0, wall)
	return out, nil
}
