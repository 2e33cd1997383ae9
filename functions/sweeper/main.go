// Command sweeper runs on a schedule and re-enqueues synchronizations that
// stayed unfinished past their grace period (a job lost between the
// accepting transaction and SQS, or dead-lettered before it was finalized).
package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/service"
)

func main() {
	slog.SetDefault(lambdacontext.NewLogger())
	svc, clients := service.Boot(service.SweeperConfig)
	sweeper := svc.Sweeper(svc.Queue(clients))
	redispatcher := svc.Redispatcher(clients)
	lambda.Start(func(ctx context.Context) error {
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
