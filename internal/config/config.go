// Package config reads each function's configuration from its environment:
// one struct per function, holding exactly the variables template.yaml
// declares for it (TestReadersReadWhatTheTemplateDeclares holds them to it),
// plus the AWS SDK configuration and the Go runtime settings a Lambda
// container starts with.
package config

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/directorycache"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// Endpoints override the AWS endpoints, to reach local emulators. Empty
// fields keep the SDK's default endpoint. The template declares both
// variables (empty in AWS) for the sake of `sam local --env-vars`, which sets
// declared variables only.
type Endpoints struct {
	DynamoDB string // AWS_ENDPOINT_URL_DYNAMODB
	SQS      string // AWS_ENDPOINT_URL_SQS
	// SecretsManager is read only by the functions that read secrets
	// (transfer, status, webhook), which alone declare it.
	SecretsManager string // AWS_ENDPOINT_URL_SECRETS_MANAGER
}

// API is what both HTTP functions read: the base path, customer JWT
// verification and the credential cache.
type API struct {
	BasePath string // BASE_PATH, e.g. "/storekit2"
	// HS256SecretID is JWT_HS256_SECRET_ID: the Secrets Manager secret (name
	// or ARN) whose value is the HS256 key; "" disables HS256. The key itself
	// is never in the environment: HS256Keys reads it at init.
	HS256SecretID string
	// JWT_JWKS_URL (https; http only on loopback), JWT_ISSUER, JWT_AUDIENCE,
	// JWT_MAX_LIFETIME_SECONDS. Its HS256Keys are set by the main.
	JWT          auth.JWTConfig
	AuthCacheTTL time.Duration // AUTH_CACHE_TTL_SECONDS
	// Environment is CONFIG_ENV: EnvDev (also when unset) or EnvProd, which
	// requires JWT_ISSUER and JWT_AUDIENCE whenever customer JWTs are on.
	Environment string
}

// The configuration environments (CONFIG_ENV, the template's Environment).
const (
	EnvDev  = "dev"
	EnvProd = "prod"
)

// Transfer is the configuration of the transfer function.
type Transfer struct {
	TableName        string        // TABLE_NAME
	TransferQueueURL string        // TRANSFER_QUEUE_URL
	LockLease        time.Duration // LOCK_LEASE_SECONDS
	Retention        time.Duration // SYNC_RETENTION_DAYS
	// Limits are MAX_UNFINISHED_PER_CUSTOMER and MAX_UNFINISHED_PER_PUBLISHER
	// (0: unbounded): REQ0007 past them.
	Limits transfer.Limits
	API
	Endpoints
}

// ReadTransfer reads the transfer function's configuration.
func ReadTransfer(getenv func(string) string) (Transfer, error) {
	r := envReader{getenv: getenv}
	c := Transfer{
		TableName:        r.required("TABLE_NAME"),
		TransferQueueURL: r.required("TRANSFER_QUEUE_URL"),
		LockLease:        r.seconds("LOCK_LEASE_SECONDS", transfer.DefaultLockLease),
		Retention:        r.days("SYNC_RETENTION_DAYS", dynamo.DefaultRetention),
		API:              r.api(),
		Endpoints:        r.endpointsWithSecrets(),
	}
	c.Limits = transfer.Limits{
		PerCustomer:  r.integer("MAX_UNFINISHED_PER_CUSTOMER", transfer.DefaultLimits.PerCustomer),
		PerPublisher: r.integer("MAX_UNFINISHED_PER_PUBLISHER", transfer.DefaultLimits.PerPublisher),
	}
	return c, r.err()
}

// Status is the configuration of the status function.
type Status struct {
	TableName string // TABLE_NAME
	API
	Endpoints
}

// ReadStatus reads the status function's configuration.
func ReadStatus(getenv func(string) string) (Status, error) {
	r := envReader{getenv: getenv}
	c := Status{TableName: r.required("TABLE_NAME"), API: r.api(), Endpoints: r.endpointsWithSecrets()}
	return c, r.err()
}

// Processor is the configuration of the processor function.
type Processor struct {
	TableName string // TABLE_NAME
	// MaxReceives is the transfer queue's maxReceiveCount: the receive on
	// which the processor gives up on a transient failure.
	MaxReceives int // MAX_RECEIVE_COUNT
	// WebhookQueueURL is optional: without it finalizations are announced by
	// the sweeper only.
	WebhookQueueURL string // WEBHOOK_QUEUE_URL
	// SealingKeySecretID names the sealing key that opens publishers' App
	// Store Connect keys, for the live check of verifyWithApple publishers;
	// without it such transfers are retried, never decided unchecked.
	SealingKeySecretID string // WEBHOOK_SEALING_KEY_SECRET_ID
	// AuthCacheTTL is how long the live check keeps a publisher's Apple app.
	AuthCacheTTL time.Duration // AUTH_CACHE_TTL_SECONDS
	Endpoints
}

// ReadProcessor reads the processor function's configuration.
func ReadProcessor(getenv func(string) string) (Processor, error) {
	r := envReader{getenv: getenv}
	c := Processor{
		TableName:          r.required("TABLE_NAME"),
		MaxReceives:        r.integer("MAX_RECEIVE_COUNT", 5),
		WebhookQueueURL:    r.getenv("WEBHOOK_QUEUE_URL"),
		SealingKeySecretID: r.getenv("WEBHOOK_SEALING_KEY_SECRET_ID"),
		AuthCacheTTL:       r.seconds("AUTH_CACHE_TTL_SECONDS", directorycache.DefaultTTL),
		Endpoints:          r.endpointsWithSecrets(),
	}
	if c.MaxReceives < 1 {
		r.errs = append(r.errs, errors.New("MAX_RECEIVE_COUNT must be at least 1"))
	}
	return c, r.err()
}

// Sweeper is the configuration of the sweeper function.
type Sweeper struct {
	TableName        string        // TABLE_NAME
	TransferQueueURL string        // TRANSFER_QUEUE_URL
	SweepGrace       time.Duration // SWEEP_GRACE_SECONDS
	// WebhookQueueURL is optional: without it the sweeper re-announces no
	// webhook events.
	WebhookQueueURL string // WEBHOOK_QUEUE_URL
	Endpoints
}

// ReadSweeper reads the sweeper function's configuration.
func ReadSweeper(getenv func(string) string) (Sweeper, error) {
	r := envReader{getenv: getenv}
	c := Sweeper{
		TableName:        r.required("TABLE_NAME"),
		TransferQueueURL: r.required("TRANSFER_QUEUE_URL"),
		SweepGrace:       r.seconds("SWEEP_GRACE_SECONDS", transfer.DefaultSweepGrace),
		WebhookQueueURL:  r.getenv("WEBHOOK_QUEUE_URL"),
		Endpoints:        r.endpoints(),
	}
	return c, r.err()
}

// AppleNotifications is the configuration of the Apple notifications function.
// It has no setting for trusted roots on purpose: a Lambda trusts Apple Root
// CA - G3 alone, whatever its environment says.
type AppleNotifications struct {
	TableName    string        // TABLE_NAME
	BasePath     string        // BASE_PATH
	AuthCacheTTL time.Duration // AUTH_CACHE_TTL_SECONDS: how long publisher settings are cached
	Retention    time.Duration // NOTIFICATION_RETENTION_DAYS
	Endpoints
}

// ReadAppleNotifications reads the Apple notifications function's configuration.
func ReadAppleNotifications(getenv func(string) string) (AppleNotifications, error) {
	r := envReader{getenv: getenv}
	c := AppleNotifications{
		TableName:    r.required("TABLE_NAME"),
		BasePath:     r.getenv("BASE_PATH"),
		AuthCacheTTL: r.seconds("AUTH_CACHE_TTL_SECONDS", directorycache.DefaultTTL),
		Retention:    r.days("NOTIFICATION_RETENTION_DAYS", appstore.DefaultRetention),
		Endpoints:    r.endpoints(),
	}
	return c, r.err()
}

// envReader reads variables and collects every problem, so that a function
// that cannot start says everything that is wrong at once.
type envReader struct {
	getenv func(string) string
	errs   []error
}

func (r *envReader) err() error { return errors.Join(r.errs...) }

func (r *envReader) api() API {
	c := API{
		BasePath:      r.getenv("BASE_PATH"),
		HS256SecretID: r.getenv("JWT_HS256_SECRET_ID"),
		JWT: auth.JWTConfig{
			JWKSURL:     r.getenv("JWT_JWKS_URL"),
			Issuer:      r.getenv("JWT_ISSUER"),
			Audience:    r.getenv("JWT_AUDIENCE"),
			MaxLifetime: r.jwtMaxLifetime(),
		},
		AuthCacheTTL: r.seconds("AUTH_CACHE_TTL_SECONDS", directorycache.DefaultTTL),
		Environment:  r.getenv("CONFIG_ENV"),
	}
	if c.JWT.JWKSURL != "" {
		if err := auth.CheckJWKSURL(c.JWT.JWKSURL); err != nil {
			r.errs = append(r.errs, fmt.Errorf("JWT_JWKS_URL: %w", err))
		}
	}
	switch c.Environment {
	case "":
		c.Environment = EnvDev
	case EnvDev, EnvProd:
	default:
		r.errs = append(r.errs, fmt.Errorf("CONFIG_ENV must be %s or %s, got %q", EnvDev, EnvProd, c.Environment))
	}
	jwtsOn := c.HS256SecretID != "" || c.JWT.JWKSURL != ""
	if c.Environment == EnvProd && jwtsOn && (c.JWT.Issuer == "" || c.JWT.Audience == "") {
		r.errs = append(r.errs, errors.New("CONFIG_ENV=prod with customer JWTs on requires JWT_ISSUER and JWT_AUDIENCE"))
	}
	return c
}

// endpoints are the only endpoint overrides a function honours: the
// service-specific ones the template declares (not AWS_ENDPOINT_URL).
func (r *envReader) endpoints() Endpoints {
	return Endpoints{DynamoDB: r.getenv("AWS_ENDPOINT_URL_DYNAMODB"), SQS: r.getenv("AWS_ENDPOINT_URL_SQS")}
}

// endpointsWithSecrets are a secret-reading function's: Secrets Manager's too.
func (r *envReader) endpointsWithSecrets() Endpoints {
	e := r.endpoints()
	e.SecretsManager = r.getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")
	return e
}

func (r *envReader) required(name string) string {
	v := r.getenv(name)
	if v == "" {
		r.errs = append(r.errs, fmt.Errorf("%s is required", name))
	}
	return v
}

func (r *envReader) integer(name string, def int) int {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		r.errs = append(r.errs, fmt.Errorf("%s must be a non-negative integer, got %q", name, v))
		return def
	}
	return n
}

// jwtMaxLifetime is JWT_MAX_LIFETIME_SECONDS: the longest exp - iat a
// customer JWT may have.
func (r *envReader) jwtMaxLifetime() time.Duration {
	d := r.seconds("JWT_MAX_LIFETIME_SECONDS", auth.DefaultMaxLifetime)
	if d <= 0 {
		r.errs = append(r.errs, errors.New("JWT_MAX_LIFETIME_SECONDS must be positive"))
	}
	return d
}

// JWTMaxLifetime reads JWT_MAX_LIFETIME_SECONDS as the HTTP functions do
// (auth.DefaultMaxLifetime when unset), for what mints JWTs the service must
// accept (transferctl token).
func JWTMaxLifetime(getenv func(string) string) (time.Duration, error) {
	r := &envReader{getenv: getenv}
	d := r.jwtMaxLifetime()
	return d, r.err()
}

func (r *envReader) seconds(name string, def time.Duration) time.Duration {
	return time.Duration(r.integer(name, int(def/time.Second))) * time.Second
}

func (r *envReader) days(name string, def time.Duration) time.Duration {
	const day = 24 * time.Hour
	return time.Duration(r.integer(name, int(def/day))) * day
}
