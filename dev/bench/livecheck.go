package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/acme/purchase-transfer/dev/appstoresim"
	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

// The live check (verifyWithApple) measured: what the processor's job costs
// when it asks the App Store Server API first (here the stand-in,
// dev/appstoresim, on loopback: Apple's own latency, tens of milliseconds
// over the internet, comes on top in AWS), next to the same job without it.

// liveBatch is the number of messages each round-trip count is taken over.
const liveBatch = 10

// LiveCheckResult is the processor with and without the live check.
type LiveCheckResult struct {
	// AWS requests per message, warm: without the check (the publisher of
	// the rest of the bench), with it where Apple agrees with what is stored
	// (nothing written), and where Apple's state differs (written, read again).
	Off, Agreeing, Differing RoundTrips
	// Apple's requests per message of Agreeing and Differing.
	AppleAgreeing, AppleDiffering float64
	// Cold is a fresh processor container's first job with the check: it
	// reads the publisher's app and its App Store Connect key once, and the
	// sealing key at init.
	Cold      RoundTrips
	AppleCold int
	// OffLatency and OnLatency time the processor's batch handler on one
	// job at a time, the two interleaved (Apple agreeing).
	OffLatency, OnLatency Latencies
}

// livePublisher is the bench's second publisher: verifyWithApple on, its
// App Store Connect key sealed and known to the stand-in.
type livePublisher struct {
	id     transfer.PublisherID
	token  string
	txs    []string // agreeing first, then differing
	apple  *atomic.Int64
	stop   func()
	config inprocess.Config
}

func (e *Env) newLivePublisher(ctx context.Context, agreeing, differing int) (*livePublisher, error) {
	store := dynamo.NewOperatorStore(dynamo.NewTable(e.stack.Clients.DynamoDB, e.res.Table))
	lp := &livePublisher{id: e.publisher + 1, apple: &atomic.Int64{}}
	var hash string
	lp.token, hash = auth.NewPublisherToken(lp.id)
	if err := store.PutPublisher(ctx, transfer.Publisher{ID: lp.id, Name: "Bench live check", StoreKit2Active: true, VerifyWithApple: true, Apple: AppleApp()}); err != nil {
		return nil, err
	}
	if err := store.PutToken(ctx, lp.id, hash, "bench"); err != nil {
		return nil, err
	}
	if err := store.PutCustomers(ctx, lp.id, append([]transfer.CustomerID{e.owner}, e.targets...)...); err != nil {
		return nil, err
	}

	// The sealing key in Secrets Manager (moto), as the processor reads it,
	// and the publisher's App Store Connect key sealed with it.
	_, encoded := webhook.NewSealingKey()
	secretID := "bench/live-sealing-" + rand.Text()[:8]
	if err := e.stack.PutSecret(ctx, secretID, encoded); err != nil {
		return nil, err
	}
	sealing := config.SealingKeys(ctx, e.stack.Clients.SecretsManager, secretID)
	priv, p8, err := appstoresim.NewKey()
	if err != nil {
		return nil, err
	}
	const issuer, keyID = "57246542-96fe-1a63-e053-0824d011072a", "BENCHLIVE1"
	if _, err := appstoreapi.NewKeys(store, webhook.NewRotatingSealer(sealing)).Set(ctx, lp.id, issuer, keyID,
		p8); err != nil {
		return nil, err
	}

	sim := appstoresim.New(e.appleRoot, appstoresim.App{BundleID: AppleBundleID, AppAppleID: AppleAppAppleID, Environment: apple.EnvironmentProduction})
	sim.AddKey(issuer, keyID, &priv.PublicKey)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lp.apple.Add(1)
		sim.ServeHTTP(w, r)
	}))
	lp.stop = srv.Close

	expires := time.Now().AddDate(0, 1, 0).UTC().Truncate(time.Second)
	lp.txs = make([]string, agreeing+differing)
	for i := range lp.txs {
		lp.txs[i] = fmt.Sprintf("4%015d", i+1)
	}
	err = parallel(ctx, 4, len(lp.txs), func(i int) error {
		tx := lp.txs[i]
		appleExpires := expires
		if i >= agreeing {
			appleExpires = expires.AddDate(0, 1, 0) // renewed: Apple knows a later expiry
		}
		sim.AddTransaction(apple.TransactionInfo{TransactionID: tx, OriginalTransactionID: "otx-" + tx, ProductID: AppleProductID,
			PurchaseDate: time.Now().Add(-time.Hour).UnixMilli(), OriginalPurchaseDate: time.Now().Add(-time.Hour).UnixMilli(),
			ExpiresDate: appleExpires.UnixMilli(), Quantity: 1, Type: apple.ProductAutoRenewable, InAppOwnershipType: "PURCHASED"})
		return store.PutPurchase(ctx, transfer.Purchase{
			PublisherID: lp.id, OriginalTransactionID: "otx-" + tx, TransactionIDs: []string{tx},
			Owner: e.owner, OfferID: AppleOfferID, ProductID: AppleProductID,
			Kind: transfer.KindAutoRenewable, State: transfer.StateActive, ExpiresAt: expires,
		})
	})
	if err != nil {
		srv.Close()
		return nil, err
	}
	lp.config = e.cfg
	lp.config.Webhook.SealingKeys = sealing
	lp.config.Apple.APIBaseURL = srv.URL
	return lp, nil
}

// liveCheck measures the live check's round trips and latency over n jobs
// of each kind; it leaves the transfer queue empty.
func (e *Env) liveCheck(ctx context.Context, n int) (LiveCheckResult, error) {
	var r LiveCheckResult
	lp, err := e.newLivePublisher(ctx, 1+liveBatch+n, liveBatch)
	if err != nil {
		return r, fmt.Errorf("live publisher: %w", err)
	}
	defer lp.stop()
	agreeing, differing := lp.txs[:1+liveBatch+n], lp.txs[1+liveBatch+n:]
	off, err := e.takeTxs(liveBatch + n)
	if err != nil {
		return r, err
	}

	// One processor container with counted AWS clients, as the deployed one
	// has both paths wired.
	counter := NewCounter()
	awsCfg := e.stack.AWSConfig()
	awsCfg.HTTPClient = counter
	proc := inprocess.New(lp.config, inprocess.NewClients(awsCfg, e.stack.Endpoints())).ProcessorBatchHandler()
	counter.Take() // the sealing key's read at init

	// jobs accepts one transfer per tx (uncounted) and hands the processor
	// their messages as one batch; it returns the AWS calls of the batch.
	jobs := func(token string, txs []string) (RoundTrips, time.Duration, error) {
		for i, tx := range txs {
			if _, err := e.transferAs(ctx, e.server.URL, token, tx, e.targets[i%len(e.targets)]); err != nil {
				return nil, 0, err
			}
		}
		e.counter.Take()
		msgs, err := e.receive(ctx, len(txs))
		if err != nil {
			return nil, 0, err
		}
		counter.Take()
		took, err := e.deliverTimed(ctx, proc, msgs)
		return counter.Take(), took, err
	}
	perMessage := func(rt RoundTrips, n int) RoundTrips {
		out := RoundTrips{}
		for k, v := range rt {
			out[k] = (v + n/2) / n
		}
		return out
	}

	before := lp.apple.Load()
	if r.Cold, _, err = jobs(lp.token, agreeing[:1]); err != nil {
		return r, fmt.Errorf("cold: %w", err)
	}
	r.AppleCold = int(lp.apple.Load() - before)
	before = lp.apple.Load()
	rt, _, err := jobs(lp.token, agreeing[1:1+liveBatch])
	if err != nil {
		return r, fmt.Errorf("agreeing: %w", err)
	}
	r.Agreeing, r.AppleAgreeing = perMessage(rt, liveBatch), float64(lp.apple.Load()-before)/liveBatch
	before = lp.apple.Load()
	if rt, _, err = jobs(lp.token, differing); err != nil {
		return r, fmt.Errorf("differing: %w", err)
	}
	r.Differing, r.AppleDiffering = perMessage(rt, liveBatch), float64(lp.apple.Load()-before)/liveBatch
	if rt, _, err = jobs(e.token, off[:liveBatch]); err != nil {
		return r, fmt.Errorf("off: %w", err)
	}
	r.Off = perMessage(rt, liveBatch)

	// Latency: one job at a time, without and with the check, interleaved.
	var offTimes, onTimes []time.Duration
	for i := range n {
		_, t, err := jobs(e.token, off[liveBatch+i:liveBatch+i+1])
		if err != nil {
			return r, fmt.Errorf("off latency: %w", err)
		}
		offTimes = append(offTimes, t)
		if _, t, err = jobs(lp.token, agreeing[1+liveBatch+i:2+liveBatch+i]); err != nil {
			return r, fmt.Errorf("on latency: %w", err)
		}
		onTimes = append(onTimes, t)
	}
	r.OffLatency, r.OnLatency = Summarize(offTimes, 0, 0), Summarize(onTimes, 0, 0)
	return r, nil
}

// deliverTimed is deliver, timing the batch handler alone.
func (e *Env) deliverTimed(ctx context.Context, h queue.BatchHandler, msgs []sqstypes.Message) (time.Duration, error) {
	began := time.Now()
	resp, err := h(ctx, SQSEvent(msgs))
	took := time.Since(began)
	if err != nil {
		return took, err
	}
	if len(resp.BatchItemFailures) > 0 {
		return took, fmt.Errorf("processor failed %d of %d messages", len(resp.BatchItemFailures), len(msgs))
	}
	return took, e.delete(ctx, msgs)
}
