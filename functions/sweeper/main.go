// Command sweeper runs on a schedule and re-enqueues synchronizations that
// stayed unfinished past their grace period (a job lost between the
// accepting transaction and SQS, or dead-lettered before it was finalized).
package main

import (
	"context"
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
	clients := service.NewClients(awsCfg, service.EndpointsFromEnv())
	svc := service.New(cfg, clients)
	sweeper := svc.Sweeper(svc.Queue(clients))
	lambda.Start(func(ctx context.Context) error {
		n, err := sweeper.Sweep(ctx)
		slog.InfoContext(ctx, "sweep done", "requeued", n)
		return err
	})
}
