// Package inprocess wires every function of the service in one process, the
// way each functions/<name>/main.go wires its own: for the local runner, the
// integration tests and the bench. It is the one place outside the mains
// that composes the adapters and the domain, and it composes them the same
// way; a difference between the two is a bug here.
package inprocess

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/directorycache"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/metrics"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/secrets"
	"github.com/acme/purchase-transfer/internal/telemetry"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// Config is the union of the functions' configurations (package config), as
// one process running all of them needs it.
type Config struct {
	TableName        string
	TransferQueueURL string
	BasePath         string
	JWT              auth.JWTConfig
	AuthCacheTTL     time.Duration
	LockLease        time.Duration
	MaxReceives      int
	Retention        time.Duration
	SweepGrace       time.Duration
	WebhookQueueURL  string
	Webhook          WebhookConfig
	Apple            AppleConfig
	// Limits bound the unfinished synchronizations (REQ0007); the zero value
	// bounds none (the mains read the template's, transfer.DefaultLimits).
	Limits transfer.Limits
	// Metrics receives the functions' EMF lines (os.Stdout for `make run`,
	// as a Lambda writes them), each dimensioned by its function's short
	// name; nil writes none.
	Metrics io.Writer
}

// Clients are the AWS SDK clients.
type Clients struct {
	DynamoDB       *dynamodb.Client
	SQS            *sqs.Client
	SecretsManager *secretsmanager.Client
}

// Endpoints are the emulators' endpoints.
type Endpoints = config.Endpoints

// NewClients builds the clients, pointed at e.
func NewClients(cfg aws.Config, e Endpoints) Clients {
	return Clients{DynamoDB: dynamo.NewClient(cfg, e.DynamoDB), SQS: queue.NewClient(cfg, e.SQS),
		SecretsManager: secrets.NewClient(cfg, e.SecretsManager)}
}

// Stores are the DynamoDB adapter's stores, one per port, on one table.
type Stores struct {
	Table      *dynamo.Table
	Directory  *dynamo.Directory
	Accept     *dynamo.AcceptStore
	Syncs      *dynamo.SyncReader
	Work       *dynamo.WorkStore
	Sweep      *dynamo.SweepStore
	Events     *dynamo.EventStore
	Deliveries *dynamo.DeliveryStore
	Endpoints  *dynamo.EndpointStore
	Operator   *dynamo.OperatorStore
}

// NewStores builds every store on t.
func NewStores(t *dynamo.Table) Stores {
	return Stores{
		Table:      t,
		Directory:  dynamo.NewDirectory(t),
		Accept:     dynamo.NewAcceptStore(t),
		Syncs:      dynamo.NewSyncReader(t),
		Work:       dynamo.NewWorkStore(t),
		Sweep:      dynamo.NewSweepStore(t),
		Events:     dynamo.NewEventStore(t),
		Deliveries: dynamo.NewDeliveryStore(t),
		Endpoints:  dynamo.NewEndpointStore(t),
		Operator:   dynamo.NewOperatorStore(t),
	}
}

// Service holds the wired use cases of one process.
type Service struct {
	Config    Config
	Stores    Stores
	Directory transfer.Directory
	Verifier  *auth.Verifier
	// metricsOut is Config.Metrics, one line written at a time: the
	// functions' emitters share it, as Lambdas share nothing but CloudWatch.
	metricsOut io.Writer
}

// New wires the stores, the directory (cached unless AuthCacheTTL is 0) and
// the JWT verifier.
func New(cfg Config, c Clients, opts ...dynamo.Option) *Service {
	stores := NewStores(dynamo.NewTable(c.DynamoDB, cfg.TableName, append([]dynamo.Option{dynamo.WithRetention(cfg.Retention)}, opts...)...))
	s := &Service{
		Config:    cfg,
		Stores:    stores,
		Directory: directorycache.New(stores.Directory, cfg.AuthCacheTTL, directorycache.DefaultChainTTL),
		Verifier:  auth.NewVerifier(cfg.JWT),
	}
	if cfg.Metrics != nil {
		s.metricsOut = &lockedWriter{w: cfg.Metrics}
	}
	return s
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Acceptor is the transfer use case, enqueueing to q. Devices' signed
// transactions are verified under Config.Apple.Roots, like notifications.
func (s *Service) Acceptor(q transfer.Queue, opts ...transfer.Option) *transfer.Acceptor {
	// NewVerifier fails only when the embedded Apple root does not parse
	// (its fingerprint test rules that out); the Lambda would not start.
	v, err := s.AppleVerifier()
	if err != nil {
		panic(fmt.Sprintf("inprocess: apple verifier: %v", err))
	}
	base := []transfer.Option{
		transfer.WithLockLease(s.Config.LockLease),
		transfer.WithLimits(s.Config.Limits),
		transfer.WithSignedTransactionVerifier(httpapi.SignedTransactions{Verifier: v}),
	}
	return transfer.NewAcceptor(s.Directory, s.Stores.Accept, q, append(base, opts...)...)
}

// Meter is the metrics emitter of one function, by the short name its main
// gives metrics.Lambda; nil (which emits nothing) without Config.Metrics.
func (s *Service) Meter(function string) *metrics.Emitter {
	if s.metricsOut == nil {
		return nil
	}
	return metrics.New(s.metricsOut, function)
}

// observed is the handlers' WithObserver of a function, none without metrics.
func (s *Service) observed(function string, opts ...httpapi.Option) []httpapi.Option {
	if s.metricsOut == nil {
		return opts
	}
	return append(opts, httpapi.WithObserver(telemetry.NewAPI(s.Meter(function))))
}

// TransferHandler serves POST /purchases/transfers.
func (s *Service) TransferHandler(q transfer.Queue, opts ...transfer.Option) http.Handler {
	return httpapi.NewTransferHandler(s.Acceptor(q, opts...), s.Verifier, s.observed("transfer", httpapi.WithBasePath(s.Config.BasePath))...)
}

// StatusHandler serves GET /purchases/synchronizations/{id}.
func (s *Service) StatusHandler() http.Handler {
	return httpapi.NewStatusHandler(transfer.NewStatusReader(s.Directory, s.Stores.Syncs), s.Verifier, s.observed("status")...)
}

// Handler serves both endpoints, as the local runner does: the transfer and
// status functions' handlers side by side, as API Gateway routes them.
func (s *Service) Handler(q transfer.Queue, opts ...transfer.Option) http.Handler {
	var routes httpapi.Routes
	routes.Handle("/purchases/transfers", s.TransferHandler(q, opts...))
	routes.Handle("/purchases/synchronizations", s.StatusHandler())
	return &routes
}

// Processor is the processing use case.
func (s *Service) Processor(opts ...transfer.Option) *transfer.Processor {
	base := []transfer.Option{transfer.WithMaxReceives(s.Config.MaxReceives)}
	if s.metricsOut != nil {
		base = append(base, transfer.WithNotifier(telemetry.NewFinalizations(s.Meter("processor"))))
	}
	check, err := s.AppleCheck()
	if err != nil {
		// As in Acceptor: only an embedded root that does not parse.
		panic(fmt.Sprintf("inprocess: apple check: %v", err))
	}
	if check != nil {
		base = append(base, transfer.WithAppleCheck(check))
	}
	return transfer.NewProcessor(s.Stores.Work, append(base, opts...)...)
}

// ProcessorBatchHandler is the SQS event handler of the processor.
func (s *Service) ProcessorBatchHandler(opts ...transfer.Option) queue.BatchHandler {
	var h queue.JobHandler = s.Processor(opts...)
	if s.metricsOut != nil {
		h = telemetry.NewJobs(s.Meter("processor"), h, s.Config.MaxReceives)
	}
	return queue.TransferBatchHandler(h)
}

// Sweeper re-enqueues jobs lost between acceptance and the queue.
func (s *Service) Sweeper(q transfer.Queue, opts ...transfer.Option) telemetry.Sweeper {
	sw := transfer.NewSweeper(s.Stores.Sweep, q, s.Config.SweepGrace, opts...)
	if s.metricsOut == nil {
		return sw
	}
	return telemetry.NewRequeues(s.Meter("sweeper"), sw)
}

// Queue is the SQS sender of transfer jobs.
func (s *Service) Queue(c Clients) *queue.Sender {
	return queue.NewSender(c.SQS, s.Config.TransferQueueURL)
}
