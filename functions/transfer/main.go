// Command transfer is the Lambda behind POST /purchases/transfers.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/httpapi"
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
	clients := service.NewClients(awsCfg, service.EndpointsFromEnv())
	svc := service.New(cfg, clients)
	lambda.Start(httpapi.LambdaHandler(svc.TransferHandler(svc.Queue(clients)), cfg.BasePath))
}
