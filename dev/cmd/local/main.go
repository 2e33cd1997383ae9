// Command local runs the whole service on this machine, without Docker: it
// starts DynamoDB Local and ElasticMQ with the template's table and queues,
// seeds demo data, serves the API with the same http.Handlers the Lambdas
// use, and feeds the processor's SQS event handler from ElasticMQ as
// Lambda's event source mapping would. Ctrl-C stops everything it started.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/dev/demoseed"
	"github.com/acme/purchase-transfer/dev/emulator"
	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/directorycache"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/runenv"
	"github.com/acme/purchase-transfer/internal/transfer"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address the API listens on")
	stateDir := flag.String("state-dir", ".local", "folder for run.env and the emulators' logs")
	// For `sam local start-api` (docs/deploy.md): emulators its Docker
	// containers can reach, instead of ones on 127.0.0.1.
	var external inprocess.Endpoints
	flag.StringVar(&external.DynamoDB, "dynamodb", "", "use this running DynamoDB (e.g. http://localhost:8000) instead of starting DynamoDB Local; needs -sqs")
	flag.StringVar(&external.SQS, "sqs", "", "use this running SQS (e.g. http://localhost:9324) instead of starting ElasticMQ; needs -dynamodb")
	flag.StringVar(&external.SecretsManager, "secretsmanager", "", "use this running Secrets Manager (e.g. moto on http://localhost:5000) instead of starting moto; needs -dynamodb and -sqs")
	printMetrics := flag.Bool("metrics", true, "print the functions' CloudWatch EMF metric lines on standard output, as each Lambda writes them to its log")
	flag.Parse()
	if (external.DynamoDB == "") != (external.SQS == "") || (external.DynamoDB == "") != (external.SecretsManager == "") {
		fmt.Fprintln(os.Stderr, "local: -dynamodb, -sqs and -secretsmanager go together")
		os.Exit(2)
	}

	slog.SetDefault(lambdacontext.NewLogger())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var metricsOut io.Writer
	if *printMetrics {
		metricsOut = os.Stdout
	}
	if err := run(ctx, *addr, *stateDir, external, metricsOut); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, stateDir string, external inprocess.Endpoints, metricsOut io.Writer) error {
	// Fail before starting anything if the API's port is taken.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (is another `make run` running?): %w", addr, err)
	}
	defer ln.Close()

	logDir := filepath.Join(stateDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	started := time.Now()
	var stack *localaws.Stack
	if external.DynamoDB != "" {
		fmt.Printf("Using DynamoDB at %s, SQS at %s and Secrets Manager at %s ...\n", external.DynamoDB, external.SQS, external.SecretsManager)
		stack, err = localaws.Connect(external)
	} else {
		fmt.Println("Starting DynamoDB Local, ElasticMQ and moto (Secrets Manager) ...")
		stack, err = localaws.Start(ctx, emulator.Options{LogDir: logDir, PeakThroughput: true})
	}
	if err != nil {
		return err
	}
	defer func() {
		if err := stack.Stop(); err != nil {
			slog.Error("stopping the emulators", "error", err)
		}
		fmt.Println("Stopped the API, the processor and the emulators.")
	}()
	res, err := stack.DefaultResources(ctx)
	if err != nil {
		return err
	}

	// The demo secrets live in Secrets Manager (moto), made for this run and
	// written nowhere else: the API reads them as the Lambdas do.
	if err := stack.PutSecret(ctx, jwtSecretID, rand.Text()+rand.Text()); err != nil {
		return err
	}
	webhookCfg, err := localWebhookConfig(ctx, stack, res)
	if err != nil {
		return err
	}
	appleRoot, err := newAppleRoot(stateDir)
	if err != nil {
		return err
	}
	cfg := inprocess.Config{
		TableName:        res.Table,
		TransferQueueURL: res.TransferQueueURL(),
		JWT:              auth.JWTConfig{HS256Keys: config.HS256Keys(ctx, stack.Clients.SecretsManager, jwtSecretID)},
		AuthCacheTTL:     directorycache.DefaultTTL,
		LockLease:        transfer.DefaultLockLease,
		Limits:           transfer.DefaultLimits,
		MaxReceives:      transferMaxReceives(stack),
		Retention:        dynamo.DefaultRetention,
		SweepGrace:       transfer.DefaultSweepGrace,
		WebhookQueueURL:  res.QueueURLs[webhookQueueID],
		Webhook:          webhookCfg,
		Apple:            inprocess.AppleConfig{Roots: appleRoot.authority.Pool()},
		Metrics:          metricsOut,
	}
	svc := inprocess.New(cfg, stack.Clients)
	seeded, err := demoseed.Seed(ctx, svc.Stores.Operator, time.Now())
	if err != nil {
		return err
	}

	// Each request, and each batch below, runs under the deadline Lambda
	// would give its function's invocation (the template's Timeout).
	timeouts := functionTimeouts(stack)
	api, err := svc.LocalAPI(svc.Queue(stack.Clients), timeouts)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	apiURL := "http://" + ln.Addr().String()
	appStore, err := startAppStoreAPI(ctx, stateDir, apiURL, os.Getenv("APPLE_API_BASE_URL"), appleRoot,
		newKeySealer(svc.Stores.Operator, webhookCfg.SealingKeys))
	if err != nil {
		return err
	}
	defer appStore.stop()
	// The processor's live check (verifyWithApple) asks the same API as
	// transferctl: the stand-in, or the server APPLE_API_BASE_URL names.
	svc.Config.Apple.APIBaseURL = appStore.env["APPLE_API_BASE_URL"]

	// As many batches at once as the event source mapping allows.
	processors := inprocess.Pollers{N: inprocess.QueueConcurrency(stack.Template, localaws.TransferQueueID), Poller: queue.Poller{
		SQS: stack.Clients.SQS, QueueURL: res.TransferQueueURL(), Handler: svc.ProcessorBatchHandler(svc.WebhookAnnouncement(stack.Clients)...),
		Wait: 10 * time.Second, Timeout: timeouts["ProcessorFunction"]}}
	pollerDone := make(chan struct{})
	pollCtx, stopPolling := context.WithCancel(context.Background())
	defer stopPolling()
	go func() { defer close(pollerDone); processors.Run(pollCtx) }()
	go inprocess.SweepEvery(pollCtx, time.Minute, timeouts["SweeperFunction"], svc.Sweeper(svc.Queue(stack.Clients)))
	hooks, err := startWebhooks(pollCtx, svc, stack.Clients, res, os.Getenv("WEBHOOK_URL"), timeouts, stack.Template)
	if err != nil {
		return err
	}

	env := appleRoot.with(hooks.with(runEnv(apiURL, seeded, stack, res)), apiURL)
	for k, v := range appStore.env {
		env[k] = v
	}
	envFile := filepath.Join(stateDir, "run.env")
	if err := runenv.Write(envFile, env); err != nil {
		return err
	}
	printWalkthrough(apiURL, envFile, time.Since(started))
	fmt.Print(hooks.walkthrough(envFile))
	fmt.Print(appleWalkthrough)
	fmt.Print(appStoreWalkthrough)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		slog.Error("API server stopped", "error", err)
	}
	fmt.Println("\nShutting down ...")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	stopPolling()
	<-pollerDone
	hooks.wait()
	_ = os.Remove(envFile)
	return nil
}

// jwtSecretID names the demo HS256 key in the local Secrets Manager, as
// JWT_HS256_SECRET_ID names it for the Lambdas.
const jwtSecretID = "purchase-transfer/local/jwt-hs256"

// transferMaxReceives is the transfer queue's maxReceiveCount in the template.
func transferMaxReceives(s *localaws.Stack) int {
	q, err := s.Template.Queue(localaws.TransferQueueID)
	if err != nil || q.MaxReceiveCount == 0 {
		return 5
	}
	return q.MaxReceiveCount
}

func runEnv(apiURL string, s demoseed.Seeded, stack *localaws.Stack, res localaws.Resources) map[string]string {
	env := map[string]string{
		"API_URL":                   apiURL,
		"PUBLISHER_ID":              strconv.FormatInt(int64(demoseed.PublisherID), 10),
		"PUBLISHER_TOKEN":           s.PublisherToken,
		"OTHER_PUBLISHER_ID":        strconv.FormatInt(int64(demoseed.OtherPublisherID), 10),
		"OTHER_PUBLISHER_TOKEN":     s.OtherPublisherToken,
		"INACTIVE_PUBLISHER_TOKEN":  s.InactivePublisherToken,
		"MIGRATING_PUBLISHER_TOKEN": s.MigratingPublisherToken,
		"JWT_HS256_SECRET_ID":       jwtSecretID,
		"CUSTOMER_A":                strconv.FormatInt(int64(demoseed.CustomerA), 10),
		"CUSTOMER_B":                strconv.FormatInt(int64(demoseed.CustomerB), 10),
		"CUSTOMER_C":                strconv.FormatInt(int64(demoseed.CustomerC), 10),
		"TX_ACTIVE":                 demoseed.TxActive,
		"TX_ACTIVE_2":               demoseed.TxActive2,
		"TX_CHAIN_1":                demoseed.TxChain1,
		"TX_CHAIN_2":                demoseed.TxChain2,
		"TX_EXPIRED":                demoseed.TxExpired,
		"TX_UNKNOWN":                demoseed.TxUnknown,
		"TABLE_NAME":                res.Table,
		"TRANSFER_QUEUE_URL":        res.TransferQueueURL(),
		"TRANSFER_DLQ_URL":          res.TransferDLQURL(),
	}
	for k, v := range stack.Env() {
		env[k] = v
	}
	return env
}

func printWalkthrough(apiURL, envFile string, took time.Duration) {
	fmt.Printf(`
Purchase transfer API on %s (ready in %.1fs). Ctrl-C stops everything.
Demo data and credentials are in %s.

Try it in another terminal:

  set -a; source %s; set +a

  # Move customer A's active purchase to customer B:
  curl -si -X POST "$API_URL/purchases/transfers" \
    -H "X-Publisher-Token: $PUBLISHER_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"cleengCustomerId\": $CUSTOMER_B, \"transactionId\": \"$TX_ACTIVE\", \"ipAddress\": \"203.0.113.7\"}"

  # Poll it (use the synchronizationId of the 202, or the Location header):
  curl -s "$API_URL/purchases/synchronizations/<synchronizationId>" -H "X-Publisher-Token: $PUBLISHER_TOKEN"

  # The same with your own id, as Cleeng's Correlation-Id:
  curl -s -X POST "$API_URL/purchases/transfers" -H "X-Publisher-Token: $PUBLISHER_TOKEN" \
    -H 'Content-Type: application/json' -H 'Correlation-Id: my-first-transfer' \
    -d "{\"cleengCustomerId\": $CUSTOMER_C, \"transactionId\": \"$TX_CHAIN_2\"}"
  curl -s "$API_URL/purchases/synchronizations/my-first-transfer" -H "X-Publisher-Token: $PUBLISHER_TOKEN"

  # Inspect with the operator CLI (make run built it into bin/):
  bin/transferctl --local purchase show $TX_ACTIVE      # owner, state, ownership history
  bin/transferctl --local sync show my-first-transfer   # status, result, timings
  bin/transferctl --local customer show $CUSTOMER_B     # what B owns now
  bin/transferctl --local dlq list                      # dead-lettered transfers
  bin/transferctl --help                                # publishers, tokens, import, ...

Other cases: TX_EXPIRED (RECEIVED_EXPIRED_PURCHASE), TX_UNKNOWN (TRANSACTION_ID_NOT_FOUND),
INACTIVE_PUBLISHER_TOKEN (SK2C0004), MIGRATING_PUBLISHER_TOKEN (SK2C0005).
(curl -d sends a form Content-Type unless told otherwise; the API refuses it with REQ0004.)
The AWS CLI reaches the emulators with the same file: aws dynamodb scan --table-name "$TABLE_NAME"
The JSON lines with "_aws" printed below are the functions' metrics (CloudWatch EMF), as each
Lambda writes them to its log (docs/operations.md); go run ./dev/cmd/local -metrics=false omits them.

`, apiURL, took.Seconds(), envFile, envFile)
}
