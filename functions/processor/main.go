// Command processor is the Lambda fed by the transfer queue: it decides and
// applies each transfer, reporting partial batch failures.
package main

import (
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/service"
)

func main() {
	slog.SetDefault(lambdacontext.NewLogger())
	svc, clients := service.Boot(service.ProcessorConfig)
	lambda.Start(svc.ProcessorBatchHandler(svc.WebhookAnnouncement(clients)...))
}
