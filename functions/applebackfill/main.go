// Command applebackfill is the Lambda an EventBridge schedule runs (off
// unless the template's AppleBackfillSchedule is set): for every publisher
// with an Apple app and an App Store Connect key, it replays what Apple
// failed to deliver over the last BACKFILL_WINDOW_HOURS, through the same
// verify/app check/dedup/order path as the notifications endpoint.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/deadline"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/secrets"
	"github.com/acme/purchase-transfer/internal/webhook"
)

func main() {
	config.TuneGC()
	slog.SetDefault(lambdacontext.NewLogger())

	// Configuration: the variables template.yaml gives this function.
	cfg := config.Must(config.ReadAppleBackfill(os.Getenv))
	awsCfg := config.Must(config.AWS())

	// Clients, once per container.
	db := dynamo.NewClient(awsCfg, cfg.Endpoints.DynamoDB)
	sm := secrets.NewClient(awsCfg, cfg.Endpoints.SecretsManager)

	// Adapters. The sealing key (the webhook function's: one sealer, one
	// rotation) opens publishers' App Store Connect keys; the verifier
	// trusts Apple Root CA - G3 and nothing else, for what Apple's API
	// returns as for what it posts.
	table := dynamo.NewTable(db, cfg.TableName)
	sealer := webhook.NewRotatingSealer(config.SealingKeys(context.Background(), sm, cfg.SealingKeySecretID))
	verifier := config.Must(apple.NewVerifier())
	publishers := dynamo.NewOperatorStore(table)
	connector := appstoreapi.NewConnector(appstoreapi.NewKeys(publishers, sealer), verifier, cfg.AppleAPIBaseURL)

	// Domain.
	receiver := appstore.NewReceiver(verifier, dynamo.NewDirectory(table), dynamo.NewNotificationStore(table, cfg.Retention))
	job := appstore.NewScheduledBackfill(receiver, publishers, appstore.HistoriesOf(connector), cfg.Window)

	// Handler: the schedule's event carries nothing. The work ends the
	// margin before the invocation does, so that a run cut short still
	// returns its counts and fails the invocation (the Errors alarm); the
	// next run's window covers the same hours.
	lambda.Start(func(ctx context.Context) (appstore.ScheduledReport, error) {
		ctx, cancel := deadline.ForWork(ctx, 0)
		defer cancel()
		return job.Run(ctx)
	})
}
