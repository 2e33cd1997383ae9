package config

import (
	"errors"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// AWS builds the SDK configuration from the environment the Lambda runtime
// provides: the region and the execution role's credentials.
//
// Lambdas use this instead of config.LoadDefaultConfig, whose shared-file,
// SSO and STS providers a function never needs but would carry (about a
// megabyte of binary and some init time). Operator tools, which do need
// profiles and SSO, load the default configuration.
func AWS() (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return aws.Config{}, errors.New("AWS_REGION is not set")
	}
	return aws.Config{
		Region: region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
			os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))),
	}, nil
}

// Must returns v, or ends a function's init when err is set: Lambda then
// reports an init error instead of the function serving requests it cannot.
func Must[T any](v T, err error) T {
	if err != nil {
		slog.Error("cannot start", "error", err)
		os.Exit(1)
	}
	return v
}

// TuneGC spends memory a function has to spare on CPU it is billed for. With
// Go's default GOGC=100 the collector runs several times per request (the AWS
// SDK allocates ~300 objects per call); at 400, `make bench` measured the warm
// transfer's CPU falling from ~245 to ~150 µs while peak RSS under load rose
// from ~15 to ~27 MiB. The soft memory limit makes the collector work harder
// again long before a 128 MB function could run out. GOGC or GOMEMLIMIT in the
// environment still win, for anyone who measures differently.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(64 << 20)
	}
}
