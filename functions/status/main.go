// Command status is the Lambda behind GET /purchases/synchronizations/{id}.
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
	svc, _ := service.Boot(service.StatusConfig)
	lambda.Start(httpapi.LambdaHandler(svc.StatusHandler(), svc.Config.BasePath))
}
