// Command processor is the Lambda fed by the transfer queue: it decides and
// applies each transfer, reporting partial batch failures.
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
	cfg, err := service.ConfigFromEnv()
	if err != nil {
		slog.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	awsCfg, err := service.EnvConfig()
	if err != nil {
		slog.Error("AWS configuration", "error", err)
		os.Exit(1)
	}
	lambda.Start(service.New(cfg, service.NewClients(awsCfg, service.EndpointsFromEnv())).ProcessorBatchHandler())
}
