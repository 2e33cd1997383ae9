// Package service wires the domain to its adapters from configuration. The
// Lambda mains and the local runner build the same handlers through it.
package service

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/directorycache"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// Config is the configuration of the service's functions. Each function reads
// only its part, through its ConfigReader; the fields it does not read keep
// their zero value.
type Config struct {
	TableName        string         // TABLE_NAME
	TransferQueueURL string         // TRANSFER_QUEUE_URL
	BasePath         string         // BASE_PATH, e.g. "/storekit2"
	JWT              auth.JWTConfig // JWT_HS256_SECRET, JWT_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE
	AuthCacheTTL     time.Duration  // AUTH_CACHE_TTL_SECONDS
	LockLease        time.Duration  // LOCK_LEASE_SECONDS
	MaxReceives      int            // MAX_RECEIVE_COUNT: the transfer queue's maxReceiveCount
	Retention        time.Duration  // SYNC_RETENTION_DAYS
	SweepGrace       time.Duration  // SWEEP_GRACE_SECONDS
	WebhookQueueURL  string         // WEBHOOK_QUEUE_URL (processor, sweeper, webhook function)
	Webhook          WebhookConfig  // WEBHOOK_*: the webhook function
}

// A ConfigReader reads one function's configuration through getenv
// (os.Getenv in a Lambda). Every variable it reads is declared for that
// function in template.yaml, and no other: TestReadersReadWhatTheTemplateDeclares.
type ConfigReader func(getenv func(string) string) (Config, error)

// TransferConfig is the configuration of the transfer function.
func TransferConfig(getenv func(string) string) (Config, error) {
	r := envReader{getenv: getenv}
	c := Config{
		TableName:        r.required("TABLE_NAME"),
		TransferQueueURL: r.required("TRANSFER_QUEUE_URL"),
		LockLease:        r.seconds("LOCK_LEASE_SECONDS", transfer.DefaultLockLease),
		Retention:        r.days("SYNC_RETENTION_DAYS", dynamo.DefaultRetention),
	}
	r.readAPI(&c)
	return c, r.err()
}

// StatusConfig is the configuration of the status function.
func StatusConfig(getenv func(string) string) (Config, error) {
	r := envReader{getenv: getenv}
	c := Config{TableName: r.required("TABLE_NAME")}
	r.readAPI(&c)
	return c, r.err()
}

// ProcessorConfig is the configuration of the processor function.
func ProcessorConfig(getenv func(string) string) (Config, error) {
	r := envReader{getenv: getenv}
	c := Config{
		TableName:   r.required("TABLE_NAME"),
		MaxReceives: r.integer("MAX_RECEIVE_COUNT", 5),
		// Optional: without it finalizations are announced by the sweeper only.
		WebhookQueueURL: r.getenv("WEBHOOK_QUEUE_URL"),
	}
	if c.MaxReceives < 1 {
		r.errs = append(r.errs, errors.New("MAX_RECEIVE_COUNT must be at least 1"))
	}
	return c, r.err()
}

// SweeperConfig is the configuration of the sweeper function.
func SweeperConfig(getenv func(string) string) (Config, error) {
	r := envReader{getenv: getenv}
	c := Config{
		TableName:        r.required("TABLE_NAME"),
		TransferQueueURL: r.required("TRANSFER_QUEUE_URL"),
		SweepGrace:       r.seconds("SWEEP_GRACE_SECONDS", transfer.DefaultSweepGrace),
		WebhookQueueURL:  r.getenv("WEBHOOK_QUEUE_URL"),
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

// readAPI reads what both HTTP functions share: the base path, customer JWT
// verification and the credential cache.
func (r *envReader) readAPI(c *Config) {
	c.BasePath = r.getenv("BASE_PATH")
	c.JWT = auth.JWTConfig{
		HS256Secret: []byte(r.getenv("JWT_HS256_SECRET")),
		JWKSURL:     r.getenv("JWT_JWKS_URL"),
		Issuer:      r.getenv("JWT_ISSUER"),
		Audience:    r.getenv("JWT_AUDIENCE"),
	}
	c.AuthCacheTTL = r.seconds("AUTH_CACHE_TTL_SECONDS", directorycache.DefaultTTL)
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

func (r *envReader) seconds(name string, def time.Duration) time.Duration {
	return time.Duration(r.integer(name, int(def/time.Second))) * time.Second
}

func (r *envReader) days(name string, def time.Duration) time.Duration {
	const day = 24 * time.Hour
	return time.Duration(r.integer(name, int(def/day))) * day
}
