package integration_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/awscalls"
	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/dev/samtemplate"
	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// grantedButNotCalledLocally are grants that AWS exercises and the local
// stack cannot: each needs its reason.
var grantedButNotCalledLocally = map[string][]awscalls.Call{
	// Lambda's event source mapping, which stands behind the function's
	// role, reads its queue's attributes; queue.Poller, which plays it
	// locally, only receives and deletes.
	"ProcessorFunction": {{Action: "sqs:GetQueueAttributes", Resource: "TransferQueue"}},
	"WebhookFunction":   {{Action: "sqs:GetQueueAttributes", Resource: "WebhookQueue"}},
}

// TestIAMGrantsAreTheCallsMade drives every function of the template
// through its paths against DynamoDB Local and ElasticMQ, each with SDK
// clients that record its requests as the IAM authorizations they need
// (awscalls; a queue consumer's poller records under its function, as the
// event source mapping uses the function's role), then holds them to the
// function's role in template.yaml: every call is granted, and every grant
// is used by some call (or listed in grantedButNotCalledLocally). It drives
// the paths itself, so that it depends on no other test, and it reads both
// sides from data: a new call, or a new grant, needs no change here.
func TestIAMGrantsAreTheCallsMade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := awscalls.NewRecorder()
	e := newEnv(t, func(c *envConfig) {
		// A delivery retried after 1 s, not the template's visibility.
		c.resources = append(c.resources, localaws.WithQueueOverride(webhookQueueID, 1, 50))
	})
	_, sealingKey := webhook.NewSealingKey()
	sealingKeyID := "integration/iam-sealing-" + strconv.FormatInt(newID(), 10)
	if err := stack.PutSecret(ctx, sealingKeyID, sealingKey); err != nil {
		t.Fatal(err)
	}
	e.svc.Config.WebhookQueueURL = e.res.QueueURLs[webhookQueueID]
	e.svc.Config.Webhook = inprocess.WebhookConfig{
		DeadLetterQueueURL: e.res.QueueURLs[webhookDLQID],
		// What an operator's transferctl seals with; the webhook function
		// reads its own keys below, through its recorded clients.
		SealingKeys:    config.SealingKeys(ctx, stack.Clients.SecretsManager, sealingKeyID),
		AttemptTimeout: 2 * time.Second,
		Retry:          webhook.RetryPolicy{Schedule: []time.Duration{time.Second}, ClientErrorAttempts: 1},
		Egress:         egress.Local,
	}
	// Apple's App Store Server API, for the processor's live check.
	// (The stand-in of the scheduled backfill too: its URL is in e's config.)
	bf := withAppStore(e)
	// function is the service as one function wires it, its AWS requests
	// recorded under its logical id: the secrets it reads too, read through
	// its own clients as its main reads them.
	function := func(id string, edit func(*inprocess.Config)) (*inprocess.Service, inprocess.Clients) {
		cfg := stack.AWSConfig()
		cfg.HTTPClient = rec.Client(id)
		clients := inprocess.NewClients(cfg, stack.Endpoints())
		c := e.svc.Config
		switch id {
		case "TransferFunction", "StatusFunction":
			c.JWT.HS256Keys = config.HS256Keys(ctx, clients.SecretsManager, e.jwtSecretID)
		case "WebhookFunction", "AppleBackfillFunction":
			c.Webhook.SealingKeys = config.SealingKeys(ctx, clients.SecretsManager, sealingKeyID)
		case "ProcessorFunction":
			// The live check opens App Store Connect keys with it.
			c.Webhook.SealingKeys = config.SealingKeys(ctx, clients.SecretsManager, sealingKeyID)
		}
		if edit != nil {
			edit(&c)
		}
		return inprocess.New(c, clients), clients
	}
	serve := func(h http.Handler) *httptest.Server {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv
	}
	poll := func(c inprocess.Clients, url string, h queue.BatchHandler) {
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		p := &queue.Poller{SQS: c.SQS, QueueURL: url, Handler: h, Wait: time.Second}
		go func() { defer close(done); _ = p.Run(pctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}

	transferSvc, transferClients := function("TransferFunction", nil)
	transferSrv := serve(transferSvc.TransferHandler(transferSvc.Queue(transferClients)))
	failingSrv := serve(transferSvc.TransferHandler(failingQueue{}))
	lostSrv := serve(transferSvc.TransferHandler(lostQueue{}))
	statusSvc, _ := function("StatusFunction", nil)
	statusSrv := serve(statusSvc.StatusHandler())
	appleSvc, _ := function("AppleNotificationsFunction", nil)
	appleHandler, err := appleSvc.AppleNotificationHandler()
	if err != nil {
		t.Fatal(err)
	}
	appleSrv := serve(appleHandler)
	processorSvc, processorClients := function("ProcessorFunction", nil)
	// Every record is stale at once for the sweeper, not after 5 minutes.
	sweeperSvc, sweeperClients := function("SweeperFunction", func(c *inprocess.Config) { c.SweepGrace = time.Millisecond })
	webhookSvc, webhookClients := function("WebhookFunction", nil)

	// What an operator sets up (transferctl, not a function): publishers,
	// customers, purchases, an Apple app, webhook endpoints.
	pub := e.seedPublisher(true, false)
	app := &transfer.AppleApp{BundleID: testBundleID, AppAppleID: testAppAppleID,
		Environments: []string{transfer.EnvironmentProduction}, Offers: map[string]string{testProduct: testOffer}}
	if err := e.svc.Stores.Operator.PutPublisher(ctx, transfer.Publisher{ID: pub.id, Name: "iam", StoreKit2Active: true, Apple: app}); err != nil {
		t.Fatal(err)
	}
	cs := e.seedCustomers(pub, 3)
	a, b, c := cs[0], cs[1], cs[2]
	// A publisher whose transfers are checked with Apple first.
	checked := e.seedPublisher(true, false)
	if err := e.svc.Stores.Operator.PutPublisher(ctx, transfer.Publisher{ID: checked.id, Name: "iam-checked", StoreKit2Active: true, VerifyWithApple: true,
		Apple: &transfer.AppleApp{BundleID: testBundleID, AppAppleID: testAppAppleID, Environments: []string{transfer.EnvironmentSandbox}}}); err != nil {
		t.Fatal(err)
	}
	setAppStoreKey(t, e, bf.sim, checked, e.svc.Config.Webhook.SealingKeys)
	checkedCustomers := e.seedCustomers(checked, 2)
	checkedPurchase := e.seedPurchase(checked, checkedCustomers[0], transfer.StateActive, time.Now().Add(time.Hour))
	bf.sim.AddTransaction(appleTransaction(checkedPurchase.TransactionIDs[0], checkedPurchase.OriginalTransactionID, time.Now().Add(-time.Hour), time.Now().Add(2*time.Hour)))
	later := time.Now().Add(time.Hour)
	moved := e.seedPurchase(pub, a, transfer.StateActive, later)
	rolledBack := e.seedPurchase(pub, a, transfer.StateActive, later)
	expired := e.seedPurchase(pub, a, transfer.StateExpired, time.Now().Add(-time.Hour))
	ownedByB := e.seedPurchase(pub, b, transfer.StateActive, later)

	hooked := e.seedPublisher(true, false)
	hookCustomers := e.seedCustomers(hooked, 2)
	hookPurchase := e.seedPurchase(hooked, hookCustomers[0], transfer.StateActive, later)
	endpoints := e.svc.WebhookEndpoints(egress.Local)
	subscribe := func(rc *receiver) webhook.Endpoint {
		ep, _, err := endpoints.Subscribe(ctx, hooked.id, rc.srv.URL, []string{webhook.TopicSyncResult})
		if err != nil {
			t.Fatal(err)
		}
		return ep
	}
	okEP := subscribe(newReceiver(t, status(http.StatusNoContent)))
	flakyEP := subscribe(newReceiver(t, failing(1)))
	goneEP := subscribe(newReceiver(t, status(http.StatusGone)))
	refusingEP := subscribe(newReceiver(t, status(http.StatusBadRequest)))

	// The transfer function: accepted (with an IP address), replayed, a
	// Correlation-Id reused, a lock held, an unknown customer, an enqueue
	// that fails (rolled back), a job lost before the queue (swept below).
	do := func(srv *httptest.Server, method, path string, hdr map[string]string, body string, want int) testkit.Response {
		t.Helper()
		r := testkit.Do(t, srv.URL, method, path, hdr, body)
		if r.Status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Raw, want)
		}
		return r
	}
	withCorrelation := func(id string) map[string]string {
		h := tokenHeader(pub)
		h["Correlation-Id"] = id
		return h
	}
	correlation := "iam-" + newTxID()
	movedBody := `{"cleengCustomerId": ` + itoa(b) + `, "transactionId": "` + moved.TransactionIDs[0] + `", "ipAddress": "192.0.2.7"}`
	do(transferSrv, http.MethodPost, "/purchases/transfers", withCorrelation(correlation), movedBody, http.StatusAccepted)
	do(transferSrv, http.MethodPost, "/purchases/transfers", withCorrelation(correlation), movedBody, http.StatusAccepted)
	do(transferSrv, http.MethodPost, "/purchases/transfers", withCorrelation(correlation), transferBody(c, moved.TransactionIDs[0]), http.StatusConflict)
	do(transferSrv, http.MethodPost, "/purchases/transfers", tokenHeader(pub), transferBody(c, moved.TransactionIDs[0]), http.StatusConflict)
	do(transferSrv, http.MethodPost, "/purchases/transfers", tokenHeader(pub), transferBody(transfer.CustomerID(newID()), newTxID()), http.StatusUnprocessableEntity)
	do(failingSrv, http.MethodPost, "/purchases/transfers", tokenHeader(pub), transferBody(b, rolledBack.TransactionIDs[0]), http.StatusInternalServerError)
	var ids []string
	for _, body := range []string{
		transferBody(b, expired.TransactionIDs[0]),
		transferBody(b, ownedByB.TransactionIDs[0]),
		transferBody(b, newTxID()), // TRANSACTION_ID_NOT_FOUND: the chain is unknown at accept
	} {
		ids = append(ids, do(transferSrv, http.MethodPost, "/purchases/transfers", tokenHeader(pub), body, http.StatusAccepted).Body["synchronizationId"].(string))
	}
	lost := do(lostSrv, http.MethodPost, "/purchases/transfers", tokenHeader(pub), transferBody(c, rolledBack.TransactionIDs[0]), http.StatusAccepted).Body["synchronizationId"].(string)
	hookSync := do(transferSrv, http.MethodPost, "/purchases/transfers", tokenHeader(hooked), transferBody(hookCustomers[1], hookPurchase.TransactionIDs[0]), http.StatusAccepted).Body["synchronizationId"].(string)
	checkedSync := do(transferSrv, http.MethodPost, "/purchases/transfers", tokenHeader(checked), transferBody(checkedCustomers[1], checkedPurchase.TransactionIDs[0]), http.StatusAccepted).Body["synchronizationId"].(string)

	// The status function: a synchronization, and one that is not there.
	do(statusSrv, http.MethodGet, "/purchases/synchronizations/"+correlation, tokenHeader(pub), "", http.StatusOK)
	do(statusSrv, http.MethodGet, "/purchases/synchronizations/nothing-here", tokenHeader(pub), "", http.StatusNotFound)

	// The sweeper, before any processing: the lost job is sent again.
	if _, err := sweeperSvc.Sweeper(sweeperSvc.Queue(sweeperClients)).Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	// The processor, announcing to the webhook queue; nobody consumes it yet.
	poll(processorClients, e.res.TransferQueueURL(), processorSvc.ProcessorBatchHandler(processorSvc.WebhookAnnouncement(processorClients)...))
	for _, id := range append(ids, correlation, lost) {
		e.waitFinalized(tokenHeader(pub), id)
	}
	e.waitFinalized(tokenHeader(hooked), hookSync)
	// The live check moved Apple's later expiry into the purchase, then the transfer.
	if r := e.waitFinalized(tokenHeader(checked), checkedSync); r.str("result") != string(transfer.ResultTransferred) {
		t.Fatalf("live-checked transfer: %s", r.raw)
	}
	// The sweeper's webhook part: every event is undispatched yet.
	if _, err := sweeperSvc.Redispatcher(sweeperClients).Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	// The webhook function: delivered, retried then delivered, gone (the
	// endpoint disabled), refused (given up and parked).
	worker, err := webhookSvc.WebhookBatchHandler(webhookClients)
	if err != nil {
		t.Fatal(err)
	}
	poll(webhookClients, e.res.QueueURLs[webhookQueueID], worker)
	h := &hookEnv{env: e, endpoints: endpoints}
	s, _, err := e.svc.Stores.Syncs.Get(ctx, hooked.id, hookSync)
	if err != nil {
		t.Fatal(err)
	}
	for ep, state := range map[string]webhook.DeliveryState{
		okEP.ID: webhook.StateDelivered, flakyEP.ID: webhook.StateDelivered,
		goneEP.ID: webhook.StateCancelled, refusingEP.ID: webhook.StateFailed,
	} {
		h.waitDelivery(s, ep, 20*time.Second, in(state))
	}
	testkit.Eventually(t, "the refused delivery parked", 10*time.Second, func() bool { return !h.deliveries(s)[refusingEP.ID].ParkedAt.IsZero() })

	// The Apple notifications function: a renewal of a known chain, its
	// duplicate, an older one (out of order), and a chain nobody knows.
	ae := &appleEnv{env: e, root: appleRoot, apple: appleSrv, pub: pub}
	notify := func(n note) {
		t.Helper()
		signed, _ := ae.sign(n)
		if r := ae.post(pub, signed); r.Status != http.StatusOK {
			t.Fatalf("notification %s: %d %s", n.typ, r.Status, r.Raw)
		}
	}
	renewal := note{typ: apple.TypeDidRenew, tx: newTxID(), otx: ownedByB.OriginalTransactionID, expires: later.Add(time.Hour), uuid: "iam-" + newTxID()}
	notify(renewal)
	notify(renewal)
	notify(note{typ: apple.TypeDidRenew, tx: newTxID(), otx: ownedByB.OriginalTransactionID, expires: later, signedAt: time.Now().Add(-time.Hour)})
	notify(note{typ: apple.TypeDidRenew, tx: newTxID(), otx: newTxID(), expires: later})

	// The scheduled Apple backfill: publishers listed (the one above has an
	// app but no key; the live-checked one has nothing missed), a key
	// opened, a missed renewal applied, then again (already seen). Both
	// publishers with a key have the stand-in's one app, so the missed
	// renewal is in each one's history.
	bfPub := bf.applePublisher(true, true)
	bfOwned := e.seedPurchase(bfPub, e.seedCustomers(bfPub, 1)[0], transfer.StateActive, later)
	bf.renewalOf(bfOwned.OriginalTransactionID, time.Now().Add(-time.Hour), later.Add(time.Hour), false)
	backfillSvc, _ := function("AppleBackfillFunction", nil)
	job, err := backfillSvc.AppleBackfill()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if rep, err := job.Run(ctx); err != nil || rep.Backfills != 2 || rep.Notifications.Seen != 2 {
			t.Fatalf("scheduled backfill: %+v, %v", rep, err)
		}
	}

	symbols := symbolsOf(stack.Template, e.res)
	for secretID, parameter := range map[string]string{e.jwtSecretID: "JwtHs256SecretId", sealingKeyID: "WebhookSealingKeySecretId"} {
		symbols[secretID] = secretGrant(t, stack.Template, parameter)
	}
	checkGrants(t, stack.Template, rec, symbols)
}

// secretGrant is how the template's grants name the secret of a parameter:
// its ARN, with the random suffix's wildcard.
func secretGrant(t *testing.T, tpl *samtemplate.Template, parameter string) string {
	t.Helper()
	for _, f := range tpl.Functions {
		for _, st := range f.Grants.Statements {
			for _, r := range st.Resources {
				if strings.Contains(r, ":secret:${"+parameter+"}") {
					return r
				}
			}
		}
	}
	t.Fatalf("no grant in template.yaml names the secret of %s", parameter)
	return ""
}

// symbolsOf names the env's table and queues by their logical ids, the
// names the template's grants use.
func symbolsOf(tpl *samtemplate.Template, res localaws.Resources) map[string]string {
	symbols := map[string]string{}
	if len(tpl.Tables) == 1 {
		symbols[res.Table] = tpl.Tables[0].LogicalID
	}
	for id, url := range res.QueueURLs {
		symbols[url] = id
	}
	return symbols
}

// symbolOf is the template's name of a recorded resource: a table, a table's
// index ("Table/index/name"), a queue.
func symbolOf(symbols map[string]string, resource string) (string, bool) {
	name, suffix, _ := strings.Cut(resource, "/index/")
	s, ok := symbols[name]
	if ok && suffix != "" {
		s += "/index/" + suffix
	}
	return s, ok
}

func checkGrants(t *testing.T, tpl *samtemplate.Template, rec *awscalls.Recorder, symbols map[string]string) {
	t.Helper()
	for _, f := range tpl.Functions {
		calls := rec.Calls(f.LogicalID)
		if len(calls) == 0 {
			t.Errorf("%s made no AWS call: drive it through its paths here", f.LogicalID)
			continue
		}
		for _, u := range rec.Unparsed(f.LogicalID) {
			t.Errorf("%s: a request awscalls cannot name: %s", f.LogicalID, u)
		}
		used := map[awscalls.Call]bool{}
		for _, call := range calls {
			resource, ok := symbolOf(symbols, call.Resource)
			if !ok {
				t.Errorf("%s calls %s: no resource of the template is %q (teach symbolsOf)", f.LogicalID, call.Action, call.Resource)
				continue
			}
			used[awscalls.Call{Action: call.Action, Resource: resource}] = true
			if !f.Grants.Allows(call.Action, resource) {
				t.Errorf("%s calls %s on %s, which its role in template.yaml does not grant", f.LogicalID, call.Action, resource)
			}
		}
		for _, s := range f.Grants.Statements {
			for _, action := range s.Actions {
				for _, resource := range s.Resources {
					grant := awscalls.Call{Action: action, Resource: resource}
					if !usedBy(used, grant) && !containsCall(grantedButNotCalledLocally[f.LogicalID], grant) {
						t.Errorf("%s is granted %s on %s, which none of its calls uses: remove the grant, drive the path that needs it here, or list it in grantedButNotCalledLocally with why", f.LogicalID, action, resource)
					}
				}
			}
		}
	}
	for id := range grantedButNotCalledLocally {
		if _, err := tpl.Function(id); err != nil {
			t.Errorf("grantedButNotCalledLocally names %s: %v", id, err)
		}
	}
}

func usedBy(used map[awscalls.Call]bool, grant awscalls.Call) bool {
	for c := range used {
		if strings.EqualFold(c.Action, grant.Action) && c.Resource == grant.Resource {
			return true
		}
	}
	return false
}

func containsCall(calls []awscalls.Call, c awscalls.Call) bool {
	for _, x := range calls {
		if strings.EqualFold(x.Action, c.Action) && x.Resource == c.Resource {
			return true
		}
	}
	return false
}

// failingQueue refuses every job, as an SQS outage would.
type failingQueue struct{}

func (failingQueue) Enqueue(context.Context, transfer.Job) error {
	return errors.New("injected enqueue failure")
}
