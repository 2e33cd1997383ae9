package appstoreapi

import (
	"context"
	"fmt"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Connector is how anything of the service reaches the App Store Server API
// for a publisher: its key read and unsealed, a client of the environment's
// host signing with it and verifying under the given verifier. transferctl's
// apple commands and the scheduled backfill use it alike, so that both talk
// to Apple the same way.
type Connector struct {
	keys     *Keys
	verifier Verifier
	override string
	opts     []Option
}

// NewConnector opens keys with keys (which needs its sealer) and builds
// clients verifying with v; baseURLOverride, when not "", replaces Apple's
// hosts (APPLE_API_BASE_URL: the stand-in of the tests and `make run`).
func NewConnector(keys *Keys, v Verifier, baseURLOverride string, opts ...Option) *Connector {
	return &Connector{keys: keys, verifier: v, override: baseURLOverride, opts: opts}
}

// Client is a client of the API in env (Production or Sandbox) for the
// publisher's app, with the publisher's key; ErrNoKey (errors.Is) when the
// publisher has none.
func (c *Connector) Client(ctx context.Context, publisher transfer.PublisherID, app transfer.AppleApp, env string) (*Client, error) {
	if env != transfer.EnvironmentProduction && env != transfer.EnvironmentSandbox {
		return nil, fmt.Errorf("environment %q: Production or Sandbox", env)
	}
	key, err := c.keys.Open(ctx, publisher, app.BundleID)
	if err != nil {
		return nil, err
	}
	return New(BaseURL(env, c.override), key, c.verifier, c.opts...), nil
}

// DefaultEnvironment is the environment to ask when none is named:
// Production when the app accepts it, else Sandbox.
func DefaultEnvironment(app transfer.AppleApp) string {
	if app.Accepts(transfer.EnvironmentProduction) {
		return transfer.EnvironmentProduction
	}
	return transfer.EnvironmentSandbox
}
