package soak

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/acme/purchase-transfer/dev/emulator"
	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/directorycache"
	"github.com/acme/purchase-transfer/internal/telemetry"
	"github.com/acme/purchase-transfer/internal/webhook"
)

// The soak's settings where production's would make it wait for minutes:
// each one keeps its production relation to the others (the lease outlasts
// the processor's whole retry budget; the webhook attempt timeout is below the
// function's).
const (
	transferVisibility = 8 * time.Second  // TransferQueue VisibilityTimeout (90 s in AWS)
	lockLease          = 60 * time.Second // > MaxReceiveCount × transferVisibility
	sweepGrace         = 10 * time.Second
	sweepEvery         = 3 * time.Second
	attemptTimeout     = 2 * time.Second
	webhookQueueID     = "WebhookQueue"
	webhookDLQID       = "WebhookDeadLetterQueue"
	jwtSecretID        = "purchase-transfer/soak/jwt-hs256"
	sealingKeySecretID = "purchase-transfer/soak/webhook-sealing-key"
)

// webhookVisibility is the WebhookQueue VisibilityTimeout (180 s in AWS),
// 45 s: it must outlast an attempt's lease, or the message of a consumer
// killed mid-attempt comes back while the lease still stands, and waits for
// it once more.
var webhookVisibility = webhook.AttemptLease(attemptTimeout) + 13*time.Second

// retrySchedule gives a delivery five attempts, given up within seconds at
// the failing endpoint. The flapping one needs two; an attempt counts once
// it is claimed (so that a crash loop ends), and a consumer killed between
// an attempt's claim and its request costs one. With three attempts, the
// 10-minute soak gave up two flapping deliveries whose first two attempts
// had each been claimed by a consumer killed before it sent them.
var retrySchedule = []time.Duration{time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}

// env is the running system under test: the emulators, the service's API in
// this process (its SDK clients faulty), and the clean clients and stores the
// seeding and the checker read with.
type env struct {
	stack     *localaws.Stack
	res       localaws.Resources
	clean     inprocess.Clients
	checkSvc  *inprocess.Service // on clean clients: seeding and reading
	svc       *inprocess.Service // on faulty clients: the API and the sweeper
	faulty    inprocess.Clients
	timeouts  map[string]time.Duration
	root      *localroot.Authority
	jwtSecret []byte // to mint customer JWTs; the API reads it from Secrets Manager
	apiURL    string
	server    *http.Server
	role      RoleConfig // the consumers' base configuration
	meter     *Meter     // the soak process's counts (its injector's)
}

// countedSweeper counts what a sweeper re-sent.
type countedSweeper struct {
	s     telemetry.Sweeper
	m     *Meter
	label string
}

func (c countedSweeper) Sweep(ctx context.Context) (int, error) {
	n, err := c.s.Sweep(ctx)
	c.m.Count(c.label, n)
	return n, err
}

func startEnv(ctx context.Context, opt Options, in *Injector) (*env, error) {
	stack, err := localaws.Start(ctx, emulator.Options{LogDir: opt.LogDir, PeakThroughput: true})
	if err != nil {
		return nil, err
	}
	e := &env{stack: stack, clean: stack.Clients, timeouts: stack.FunctionTimeouts(), meter: in.Meter}
	if err := e.setUp(ctx, opt, in); err != nil {
		return nil, errors.Join(err, e.stop())
	}
	return e, nil
}

func (e *env) setUp(ctx context.Context, opt Options, in *Injector) error {
	tq, err := e.stack.Template.Queue(localaws.TransferQueueID)
	if err != nil {
		return err
	}
	wq, err := e.stack.Template.Queue(webhookQueueID)
	if err != nil {
		return err
	}
	e.res, err = e.stack.IsolatedResources(ctx,
		localaws.WithQueueOverride(localaws.TransferQueueID, int(transferVisibility/time.Second), tq.MaxReceiveCount),
		localaws.WithQueueOverride(webhookQueueID, int(webhookVisibility/time.Second), wq.MaxReceiveCount))
	if err != nil {
		return err
	}
	if e.root, err = localroot.New(); err != nil {
		return err
	}
	// The run's secrets, in the local Secrets Manager only.
	e.jwtSecret = []byte(rand.Text() + rand.Text())
	if err := e.stack.PutSecret(ctx, jwtSecretID, string(e.jwtSecret)); err != nil {
		return err
	}
	_, sealing := webhook.NewSealingKey()
	if err := e.stack.PutSecret(ctx, sealingKeySecretID, sealing); err != nil {
		return err
	}
	e.role = RoleConfig{
		Endpoints: e.stack.Endpoints(), Table: e.res.Table,
		TransferQueueURL: e.res.TransferQueueURL(), WebhookQueueURL: e.res.QueueURLs[webhookQueueID], WebhookDLQURL: e.res.QueueURLs[webhookDLQID],
		MaxReceives: tq.MaxReceiveCount, LockLease: lockLease, SweepGrace: sweepGrace,
		SealingKeySecret: sealingKeySecretID, AttemptTimeout: attemptTimeout, RetrySchedule: retrySchedule,
		Faults: opt.Faults, Seed: opt.Seed,
	}
	e.checkSvc = e.role.service(ctx, e.clean, e.clean.SecretsManager)
	e.faulty = faultyClients(e.stack, in)
	e.svc = e.serviceOn(ctx, e.faulty)
	return nil
}

// serviceOn is the API's service (customer JWTs, Apple's local root) on clients.
func (e *env) serviceOn(ctx context.Context, c inprocess.Clients) *inprocess.Service {
	svc := e.role.service(ctx, c, e.clean.SecretsManager)
	svc.Config.JWT = auth.JWTConfig{HS256Keys: config.HS256Keys(ctx, e.clean.SecretsManager, jwtSecretID)}
	svc.Config.AuthCacheTTL = directorycache.DefaultTTL
	svc.Config.Apple = inprocess.AppleConfig{Roots: e.root.Pool()}
	return inprocess.New(svc.Config, c)
}

// serve starts the API (transfer, status, Apple notifications) on a free
// 127.0.0.1 port, each request under its function's deadline.
func (e *env) serve() error {
	routes, err := e.svc.LocalAPI(e.svc.Queue(e.faulty), e.timeouts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.apiURL = "http://" + ln.Addr().String()
	e.server = &http.Server{Handler: routes, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.server.Serve(ln) }()
	return nil
}

// sweep runs both sweepers on their (shortened) schedule until ctx ends.
func (e *env) sweep(ctx context.Context) {
	go inprocess.SweepEvery(ctx, sweepEvery, e.timeouts["SweeperFunction"], e.svc.Sweeper(e.svc.Queue(e.faulty)))
	if r := e.svc.Redispatcher(e.faulty); r != nil {
		go inprocess.SweepEvery(ctx, sweepEvery, e.timeouts["SweeperFunction"], countedSweeper{r, e.meter, "webhook events re-dispatched"})
	}
}

// roleConfig is the configuration of a consumer of role with pollers pollers.
func (e *env) roleConfig(role string, pollers int, seed uint64) RoleConfig {
	rc := e.role
	rc.Role, rc.Pollers, rc.Seed = role, pollers, seed
	rc.Timeout = e.timeouts["ProcessorFunction"]
	if role == RoleWebhook {
		rc.Timeout = e.timeouts["WebhookFunction"]
	}
	return rc
}

func (e *env) stop() error {
	if e.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.server.Shutdown(ctx)
	}
	return e.stack.Stop()
}

// logFile opens a log of the run in opt.LogDir.
func logFile(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	return f, nil
}
