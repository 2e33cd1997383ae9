package service

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/directorycache"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// Clients are the AWS SDK clients, built once per container.
type Clients struct {
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
}

// Endpoints override the AWS endpoints, to reach local emulators. Empty
// fields keep the SDK's default endpoint.
type Endpoints struct {
	DynamoDB string
	SQS      string
}

// EndpointsFromEnv reads AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS
// (or AWS_ENDPOINT_URL), as the SDK's default configuration would.
func EndpointsFromEnv() Endpoints {
	return Endpoints{DynamoDB: endpointFor("DYNAMODB"), SQS: endpointFor("SQS")}
}

// NewClients builds the clients of a container.
func NewClients(cfg aws.Config, e Endpoints) Clients {
	return Clients{
		DynamoDB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
			if e.DynamoDB != "" {
				o.BaseEndpoint = &e.DynamoDB
				// DynamoDB Local does not send the CRC32 the SDK checks; AWS does.
				o.DisableValidateResponseChecksum = true
			}
		}),
		SQS: sqs.NewFromConfig(cfg, func(o *sqs.Options) {
			if e.SQS != "" {
				o.BaseEndpoint = &e.SQS
			}
		}),
	}
}

// Service holds the wired use cases of one container.
type Service struct {
	Config    Config
	Store     *dynamo.Store
	Directory transfer.Directory
	Verifier  *auth.Verifier
}

// New wires the store, the directory (cached unless AuthCacheTTL is 0) and
// the JWT verifier.
func New(cfg Config, c Clients, opts ...dynamo.Option) *Service {
	store := dynamo.New(c.DynamoDB, cfg.TableName, append([]dynamo.Option{dynamo.WithRetention(cfg.Retention)}, opts...)...)
	return &Service{
		Config:    cfg,
		Store:     store,
		Directory: directorycache.New(store, cfg.AuthCacheTTL, directorycache.DefaultChainTTL),
		Verifier:  auth.NewVerifier(cfg.JWT),
	}
}

// Acceptor is the transfer use case, enqueueing to q.
func (s *Service) Acceptor(q transfer.Queue, opts ...transfer.Option) *transfer.Acceptor {
	return transfer.NewAcceptor(s.Directory, s.Store, q, append([]transfer.Option{transfer.WithLockLease(s.Config.LockLease)}, opts...)...)
}

// TransferHandler serves POST /purchases/transfers.
func (s *Service) TransferHandler(q transfer.Queue, opts ...transfer.Option) http.Handler {
	return httpapi.NewTransferHandler(s.Acceptor(q, opts...), s.Verifier, httpapi.WithBasePath(s.Config.BasePath))
}

// StatusHandler serves GET /purchases/synchronizations/{id}.
func (s *Service) StatusHandler() http.Handler {
	return httpapi.NewStatusHandler(transfer.NewStatusReader(s.Directory, s.Store), s.Verifier)
}

// Handler serves both endpoints, as the local runner does.
func (s *Service) Handler(q transfer.Queue, opts ...transfer.Option) http.Handler {
	return httpapi.NewHandler(s.Acceptor(q, opts...), transfer.NewStatusReader(s.Directory, s.Store), s.Verifier,
		httpapi.WithBasePath(s.Config.BasePath))
}

// Processor is the processing use case.
func (s *Service) Processor(opts ...transfer.Option) *transfer.Processor {
	return transfer.NewProcessor(s.Store, append([]transfer.Option{transfer.WithMaxReceives(s.Config.MaxReceives)}, opts...)...)
}

// ProcessorBatchHandler is the SQS event handler of the processor.
func (s *Service) ProcessorBatchHandler(opts ...transfer.Option) queue.BatchHandler {
	return queue.TransferBatchHandler(s.Processor(opts...))
}

// Sweeper re-enqueues jobs lost between acceptance and the queue.
func (s *Service) Sweeper(q transfer.Queue, opts ...transfer.Option) *transfer.Sweeper {
	return transfer.NewSweeper(s.Store, q, s.Config.SweepGrace, opts...)
}

// Queue is the SQS sender of transfer jobs.
func (s *Service) Queue(c Clients) *queue.Sender {
	return queue.NewSender(c.SQS, s.Config.TransferQueueURL)
}
