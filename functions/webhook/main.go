// Command webhook is the Lambda fed by the webhook queue: it fans finalized
// synchronizations out to publishers' endpoints and makes each delivery's
// attempts, signed, with backoff, reporting partial batch failures.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/metrics"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/secrets"
	"github.com/acme/purchase-transfer/internal/telemetry"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

func main() {
	config.TuneGC()
	slog.SetDefault(lambdacontext.NewLogger())

	// Configuration: the variables template.yaml gives this function.
	cfg := config.Must(config.ReadWebhook(os.Getenv))
	awsCfg := config.Must(config.AWS())
	meter := metrics.Lambda("webhook")

	// Clients, once per container.
	db := dynamo.NewClient(awsCfg, cfg.Endpoints.DynamoDB)
	sqsClient := queue.NewClient(awsCfg, cfg.Endpoints.SQS)
	sm := secrets.NewClient(awsCfg, cfg.Endpoints.SecretsManager)

	// Adapters. In AWS a delivery may only call public https endpoints.
	policy := egress.Policy{}
	table := dynamo.NewTable(db, cfg.TableName)
	webhookQueue := queue.NewWebhookQueue(sqsClient, cfg.WebhookQueueURL, cfg.DeadLetterQueueURL)
	// The sealing key, from Secrets Manager now (and again on a TTL and when
	// a sealed secret opens with neither the current nor the previous key).
	sealer := webhook.NewRotatingSealer(config.SealingKeys(context.Background(), sm, cfg.SealingKeySecretID))
	endpointStore := dynamo.NewEndpointStore(table)
	endpoints := webhook.NewEndpoints(endpointStore, sealer, policy)
	sender := telemetry.NewAttempts(meter, webhook.NewSender(policy, cfg.AttemptTimeout))

	// Domain.
	worker := webhook.NewWorker(
		webhook.NewDispatcher(dynamo.NewEventStore(table), endpointStore, webhookQueue),
		webhook.NewDeliverer(dynamo.NewDeliveryStore(table), telemetry.NewGiveUps(meter, webhookQueue), endpoints, sealer, sender,
			webhook.WithRetryPolicy(cfg.Retry), webhook.WithAttemptTimeout(cfg.AttemptTimeout)),
	)

	// Handler.
	lambda.Start(queue.WebhookBatchHandler(worker, webhookQueue))
}
