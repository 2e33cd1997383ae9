// Command sweeper runs on a schedule and re-enqueues synchronizations that
// stayed unfinished past their grace period (a job lost between the
// accepting transaction and SQS, or dead-lettered before it was finalized),
// and re-announces webhook events whose fan-out never started.
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/deadline"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/metrics"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/telemetry"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

func main() {
	config.TuneGC()
	slog.SetDefault(lambdacontext.NewLogger())

	// Configuration: the variables template.yaml gives this function.
	cfg := config.Must(config.ReadSweeper(os.Getenv))
	awsCfg := config.Must(config.AWS())
	meter := metrics.Lambda("sweeper")

	// Clients, once per container.
	db := dynamo.NewClient(awsCfg, cfg.Endpoints.DynamoDB)
	sqsClient := queue.NewClient(awsCfg, cfg.Endpoints.SQS)

	// Adapters and domain.
	table := dynamo.NewTable(db, cfg.TableName)
	sweeper := telemetry.NewRequeues(meter,
		transfer.NewSweeper(dynamo.NewSweepStore(table), queue.NewSender(sqsClient, cfg.TransferQueueURL), cfg.SweepGrace))
	var redispatcher telemetry.Sweeper
	if cfg.WebhookQueueURL != "" {
		redispatcher = telemetry.NewRedispatches(meter, webhook.NewRedispatcher(dynamo.NewEventStore(table),
			queue.NewWebhookQueue(sqsClient, cfg.WebhookQueueURL, ""), cfg.SweepGrace))
	}

	// Handler.
	lambda.Start(func(ctx context.Context) error {
		// The work ends the margin before the invocation does: a slow table
		// ends the sweep, which the next minute's run takes up again.
		ctx, cancel := deadline.ForWork(ctx, 0)
		defer cancel()
		n, err := sweeper.Sweep(ctx)
		slog.InfoContext(ctx, "sweep done", "requeued", n)
		if redispatcher != nil {
			m, wErr := redispatcher.Sweep(ctx)
			slog.InfoContext(ctx, "webhook sweep done", "redispatched", m)
			err = errors.Join(err, wErr)
		}
		return err
	})
}
