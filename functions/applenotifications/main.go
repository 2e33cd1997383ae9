// Command applenotifications is the Lambda behind POST
// /apple/notifications/{publisherId}: it verifies an App Store Server
// Notification V2, records it and applies it to the purchase it names.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/directorycache"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/metrics"
	"github.com/acme/purchase-transfer/internal/telemetry"
)

func main() {
	config.TuneGC()
	slog.SetDefault(lambdacontext.NewLogger())

	// Configuration: the variables template.yaml gives this function.
	cfg := config.Must(config.ReadAppleNotifications(os.Getenv))
	awsCfg := config.Must(config.AWS())
	meter := metrics.Lambda("applenotifications")

	// Clients, once per container.
	db := dynamo.NewClient(awsCfg, cfg.Endpoints.DynamoDB)

	// Adapters. The verifier trusts Apple Root CA - G3 and nothing else.
	table := dynamo.NewTable(db, cfg.TableName)
	directory := directorycache.New(dynamo.NewDirectory(table), cfg.AuthCacheTTL, directorycache.DefaultChainTTL)
	verifier := config.Must(apple.NewVerifier())

	// Domain.
	receiver := appstore.NewReceiver(verifier, directory, dynamo.NewNotificationStore(table, cfg.Retention))

	// Handler.
	handler := httpapi.NewAppleNotificationHandler(receiver, httpapi.WithObserver(telemetry.NewAPI(meter)))
	lambda.Start(httpapi.LambdaHandler(handler, cfg.BasePath))
}
