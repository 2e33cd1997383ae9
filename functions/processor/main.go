// Command processor is the Lambda fed by the transfer queue: it decides and
// applies each transfer, reporting partial batch failures.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/directorycache"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/metrics"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/secrets"
	"github.com/acme/purchase-transfer/internal/telemetry"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

func main() {
	config.TuneGC()
	slog.SetDefault(lambdacontext.NewLogger())

	// Configuration: the variables template.yaml gives this function.
	cfg := config.Must(config.ReadProcessor(os.Getenv))
	awsCfg := config.Must(config.AWS())
	meter := metrics.Lambda("processor")

	// Clients, once per container.
	db := dynamo.NewClient(awsCfg, cfg.Endpoints.DynamoDB)
	sqsClient := queue.NewClient(awsCfg, cfg.Endpoints.SQS)

	// Adapters.
	table := dynamo.NewTable(db, cfg.TableName)
	opts := []transfer.Option{transfer.WithMaxReceives(cfg.MaxReceives), transfer.WithNotifier(telemetry.NewFinalizations(meter))}
	if cfg.WebhookQueueURL != "" {
		// Each committed finalization's event is announced to the webhook
		// queue at once; without the queue the sweeper finds it later.
		announcer := webhook.NewAnnouncer(queue.NewWebhookQueue(sqsClient, cfg.WebhookQueueURL, ""), webhook.DefaultAnnounceTimeout)
		opts = append(opts, transfer.WithNotifier(announcer))
	}
	if cfg.SealingKeySecretID != "" {
		// The live check of verifyWithApple publishers: their App Store
		// Connect keys open with the sealing key, read on first use (a cold
		// start of a deployment without such publishers never waits for it);
		// the API is Apple's own
		// hosts, and what it signs is trusted under Apple Root CA - G3 only.
		sealer := webhook.NewRotatingSealer(config.SealingKeysOnUse(secrets.NewClient(awsCfg, cfg.Endpoints.SecretsManager), cfg.SealingKeySecretID))
		connector := appstoreapi.NewConnector(appstoreapi.NewKeys(dynamo.NewOperatorStore(table), sealer), config.Must(apple.NewVerifier()), "")
		clients := appstoreapi.NewClients(connector, appstoreapi.DefaultClientTTL)
		directory := directorycache.New(dynamo.NewDirectory(table), cfg.AuthCacheTTL, directorycache.DefaultChainTTL)
		live := appstore.NewLiveCheck(directory, dynamo.NewNotificationStore(table, appstore.DefaultRetention), clients)
		opts = append(opts, transfer.WithAppleCheck(live))
	}

	// Domain.
	processor := transfer.NewProcessor(dynamo.NewWorkStore(table), opts...)

	// Handler.
	lambda.Start(queue.TransferBatchHandler(telemetry.NewJobs(meter, processor, cfg.MaxReceives)))
}
