// Package service wires the domain to its adapters from configuration. The
// Lambda mains and the local runner build the same handlers through it.
package service

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/lookupcache"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// Config is everything a function reads from its environment. Each variable
// is declared in template.yaml.
type Config struct {
	TableName        string         // TABLE_NAME
	TransferQueueURL string         // TRANSFER_QUEUE_URL (transfer function only)
	BasePath         string         // BASE_PATH, e.g. "/storekit2"
	JWT              auth.JWTConfig // JWT_HS256_SECRET, JWT_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE
	AuthCacheTTL     time.Duration  // AUTH_CACHE_TTL_SECONDS
	LockLease        time.Duration  // LOCK_LEASE_SECONDS
	MaxReceives      int            // MAX_RECEIVE_COUNT: the transfer queue's maxReceiveCount
	Retention        time.Duration  // SYNC_RETENTION_DAYS
	SweepGrace       time.Duration  // SWEEP_GRACE_SECONDS (sweeper only)
}

// ConfigFromEnv reads the configuration; TABLE_NAME is the only required variable.
func ConfigFromEnv() (Config, error) {
	c := Config{
		TableName:        os.Getenv("TABLE_NAME"),
		TransferQueueURL: os.Getenv("TRANSFER_QUEUE_URL"),
		BasePath:         os.Getenv("BASE_PATH"),
		JWT: auth.JWTConfig{
			HS256Secret: []byte(os.Getenv("JWT_HS256_SECRET")),
			JWKSURL:     os.Getenv("JWT_JWKS_URL"),
			Issuer:      os.Getenv("JWT_ISSUER"),
			Audience:    os.Getenv("JWT_AUDIENCE"),
		},
	}
	var errs []error
	if c.TableName == "" {
		errs = append(errs, errors.New("TABLE_NAME is required"))
	}
	c.AuthCacheTTL = seconds("AUTH_CACHE_TTL_SECONDS", lookupcache.DefaultTTL, &errs)
	c.LockLease = seconds("LOCK_LEASE_SECONDS", transfer.DefaultLockLease, &errs)
	c.MaxReceives = integer("MAX_RECEIVE_COUNT", 5, &errs)
	if c.MaxReceives < 1 {
		errs = append(errs, errors.New("MAX_RECEIVE_COUNT must be at least 1"))
	}
	c.SweepGrace = seconds("SWEEP_GRACE_SECONDS", transfer.DefaultSweepGrace, &errs)
	c.Retention = time.Duration(integer("SYNC_RETENTION_DAYS", int(dynamo.DefaultRetention/(24*time.Hour)), &errs)) * 24 * time.Hour
	return c, errors.Join(errs...)
}

func integer(name string, def int, errs *[]error) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		*errs = append(*errs, fmt.Errorf("%s must be a non-negative integer, got %q", name, v))
		return def
	}
	return n
}

func seconds(name string, def time.Duration, errs *[]error) time.Duration {
	return time.Duration(integer(name, int(def/time.Second), errs)) * time.Second
}
