// Command transferctl is the operator's tool for the purchase transfer
// service: publishers and their tokens, bulk import of customers and
// purchases, inspection of purchases and synchronizations, webhook
// endpoints, dead letters, and (for development) customer JWTs. It talks to
// DynamoDB and SQS with the AWS SDK's default configuration (profiles, SSO,
// AWS_ENDPOINT_URL_*); --stack NAME reads the table and queue names from a
// deployed stack, --local from the file `make run` writes.
//
// rootCommand (root.go) builds the whole command tree; each command group
// lives in its own file; `transferctl help` lists them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
