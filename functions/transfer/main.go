// Command transfer is the Lambda behind POST /purchases/transfers.
package main

import (
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/service"
)

func main() {
	slog.SetDefault(lambdacontext.NewLogger())
	svc, clients := service.Boot(service.TransferConfig)
	lambda.Start(httpapi.LambdaHandler(svc.TransferHandler(svc.Queue(clients)), svc.Config.BasePath))
}
