// Command status is the Lambda behind GET /purchases/synchronizations/{id}:
// it reads one synchronization record, as the caller may see it.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/directorycache"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/metrics"
	"github.com/acme/purchase-transfer/internal/secrets"
	"github.com/acme/purchase-transfer/internal/telemetry"
	"github.com/acme/purchase-transfer/internal/transfer"
)

func main() {
	config.TuneGC()
	slog.SetDefault(lambdacontext.NewLogger())

	// Configuration: the variables template.yaml gives this function.
	cfg := config.Must(config.ReadStatus(os.Getenv))
	awsCfg := config.Must(config.AWS())
	meter := metrics.Lambda("status")

	// Clients, once per container.
	db := dynamo.NewClient(awsCfg, cfg.Endpoints.DynamoDB)
	sm := secrets.NewClient(awsCfg, cfg.Endpoints.SecretsManager)

	// The HS256 key of customer JWTs, from Secrets Manager now (and again on
	// a TTL and when a token of a newer key arrives), never from the environment.
	cfg.JWT.HS256Keys = config.HS256Keys(context.Background(), sm, cfg.HS256SecretID)

	// Adapters.
	table := dynamo.NewTable(db, cfg.TableName)
	directory := directorycache.New(dynamo.NewDirectory(table), cfg.AuthCacheTTL, directorycache.DefaultChainTTL)

	// Domain.
	reader := transfer.NewStatusReader(directory, dynamo.NewSyncReader(table))

	// Handler.
	handler := httpapi.NewStatusHandler(reader, auth.NewVerifier(cfg.JWT), httpapi.WithObserver(telemetry.NewAPI(meter)))
	lambda.Start(httpapi.LambdaHandler(handler, cfg.BasePath))
}
