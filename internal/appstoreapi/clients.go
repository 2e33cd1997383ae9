package appstoreapi

import (
	"context"
	"sync"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// DefaultClientTTL is how long Clients keeps a publisher's opened key: a key
// set again (rotated, or after a 401) is used within it.
const DefaultClientTTL = 5 * time.Minute

// Clients opens publishers' App Store Connect keys and keeps a client per
// publisher, app and environment, so that a warm function asks Apple
// without reading and unsealing the key each time.
type Clients struct {
	keys     *Keys
	verifier Verifier
	override string
	ttl      time.Duration
	opts     []Option
	now      func() time.Time

	mu    sync.Mutex
	cache map[clientKey]cachedClient
}

type clientKey struct {
	publisher   transfer.PublisherID
	bundleID    string
	environment string
}

type cachedClient struct {
	client *Client
	until  time.Time
}

// NewClients opens keys with keys, verifies with v, and talks to Apple's host
// of each environment, or to override when it is set (BaseURL).
func NewClients(keys *Keys, v Verifier, override string, ttl time.Duration, opts ...Option) *Clients {
	return &Clients{keys: keys, verifier: v, override: override, ttl: ttl, opts: opts, now: time.Now,
		cache: map[clientKey]cachedClient{}}
}

// Client is the client of the publisher's app bundleID in environment
// (Production or Sandbox). Its key is read at most once per TTL; concurrent
// callers that miss may each read it, which is harmless.
func (c *Clients) Client(ctx context.Context, publisher transfer.PublisherID, bundleID, environment string) (*Client, error) {
	k := clientKey{publisher, bundleID, environment}
	now := c.now()
	c.mu.Lock()
	cached, ok := c.cache[k]
	c.mu.Unlock()
	if ok && now.Before(cached.until) {
		return cached.client, nil
	}
	key, err := c.keys.Open(ctx, publisher, bundleID)
	if err != nil {
		return nil, err
	}
	client := New(BaseURL(environment, c.override), key, c.verifier, c.opts...)
	c.mu.Lock()
	c.cache[k] = cachedClient{client: client, until: now.Add(c.ttl)}
	c.mu.Unlock()
	return client, nil
}
