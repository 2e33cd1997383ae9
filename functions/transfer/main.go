// Command transfer is the Lambda behind POST /purchases/transfers: it
// checks the request, opens the synchronization (record and locks, one
// conditional transaction), enqueues its job and answers 202.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/apple"
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

func main() {
	config.TuneGC()
	slog.SetDefault(lambdacontext.NewLogger())

	// Configuration: the variables template.yaml gives this function.
	cfg := config.Must(config.ReadTransfer(os.Getenv))
	awsCfg := config.Must(config.AWS())
	meter := metrics.Lambda("transfer")

	// Clients, once per container.
	db := dynamo.NewClient(awsCfg, cfg.Endpoints.DynamoDB)
	sqsClient := queue.NewClient(awsCfg, cfg.Endpoints.SQS)
	sm := secrets.NewClient(awsCfg, cfg.Endpoints.SecretsManager)

	// The HS256 key of customer JWTs, from Secrets Manager now (and again on
	// a TTL and when a token of a newer key arrives), never from the environment.
	cfg.JWT.HS256Keys = config.HS256Keys(context.Background(), sm, cfg.HS256SecretID)

	// Adapters.
	table := dynamo.NewTable(db, cfg.TableName, dynamo.WithRetention(cfg.Retention))
	directory := directorycache.New(dynamo.NewDirectory(table), cfg.AuthCacheTTL, directorycache.DefaultChainTTL)
	jobs := queue.NewSender(sqsClient, cfg.TransferQueueURL)
	// Devices' signed transactions (requireSignedTransaction): Apple Root CA - G3 and nothing else.
	signed := httpapi.SignedTransactions{Verifier: config.Must(apple.NewVerifier())}

	// Domain.
	acceptor := transfer.NewAcceptor(directory, dynamo.NewAcceptStore(table), jobs,
		transfer.WithLockLease(cfg.LockLease), transfer.WithLimits(cfg.Limits), transfer.WithSignedTransactionVerifier(signed))

	// Handler.
	handler := httpapi.NewTransferHandler(acceptor, auth.NewVerifier(cfg.JWT), httpapi.WithBasePath(cfg.BasePath),
		httpapi.WithObserver(telemetry.NewAPI(meter)))
	lambda.Start(httpapi.LambdaHandler(handler, cfg.BasePath))
}
