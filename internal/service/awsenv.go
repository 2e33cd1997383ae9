package service

import (
	"errors"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// EnvConfig builds the SDK configuration from the environment the Lambda
// runtime provides: region, the execution role's credentials, and the
// AWS_ENDPOINT_URL_* overrides that point a function at local emulators.
//
// Lambdas use this instead of config.LoadDefaultConfig, whose shared-file,
// SSO and STS providers a function never needs but would carry (about a
// megabyte of binary and some init time). Operator tools, which do need
// profiles and SSO, load the default configuration.
func EnvConfig() (aws.Config, error) {
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

// endpointFor returns the endpoint override of a service, as the SDK's
// default configuration would resolve it, or "".
func endpointFor(service string) string {
	for _, name := range []string{"AWS_ENDPOINT_URL_" + service, "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(name); v != "" {
			return v
		}
	}
	return ""
}

// Boot builds a Lambda container's service from its environment: the
// function's configuration (read by its ConfigReader), the SDK clients, the
// wired use cases. A function that cannot boot exits, so Lambda reports an
// init error instead of serving requests.
func Boot(read ConfigReader) (*Service, Clients) {
	tuneGC()
	cfg, err := read(os.Getenv)
	if err != nil {
		slog.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	awsCfg, err := EnvConfig()
	if err != nil {
		slog.Error("AWS configuration", "error", err)
		os.Exit(1)
	}
	clients := NewClients(awsCfg, LambdaEndpoints(os.Getenv))
	return New(cfg, clients), clients
}

// LambdaEndpoints are the endpoint overrides a function honours: only the
// service-specific variables, which the template declares (empty, so the SDK's
// endpoints in AWS) for the sake of `sam local --env-vars`, which sets
// declared variables only.
func LambdaEndpoints(getenv func(string) string) Endpoints {
	return Endpoints{DynamoDB: getenv("AWS_ENDPOINT_URL_DYNAMODB"), SQS: getenv("AWS_ENDPOINT_URL_SQS")}
}

// tuneGC spends memory a function has to spare on CPU it is billed for. With
// Go's default GOGC=100 the collector runs several times per request (the AWS
// SDK allocates ~300 objects per call); at 400, `make bench` measured the warm
// transfer's CPU falling from ~245 to ~150 µs while peak RSS under load rose
// from ~15 to ~27 MiB. The soft memory limit makes the collector work harder
// again long before a 128 MB function could run out. GOGC or GOMEMLIMIT in the
// environment still win, for anyone who measures differently.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(64 << 20)
	}
}
