// Command webhook is the Lambda fed by the webhook queue: it fans finalized
// synchronizations out to publishers' endpoints and makes each delivery's
// attempts, signed, with backoff, reporting partial batch failures.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/service"
)

func main() {
	slog.SetDefault(lambdacontext.NewLogger())
	svc, clients := service.Boot(service.WebhookFunctionConfig)
	handler, err := svc.WebhookBatchHandler(clients)
	if err != nil {
		slog.Error("webhook configuration", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
