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

// Clients keeps the clients a Connector makes, per publisher, app and
// environment, so that a warm function (the processor's live check) asks
// Apple without reading and unsealing the key each time.
type Clients struct {
	connector *Connector
	ttl       time.Duration
	now       func() time.Time

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

// NewClients keeps c's clients for ttl.
func NewClients(c *Connector, ttl time.Duration) *Clients {
	return &Clients{connector: c, ttl: ttl, now: time.Now, cache: map[clientKey]cachedClient{}}
}

// Client is Connector.Client, from the cache when it holds one younger than
// the TTL; concurrent callers that miss may each open the key, which is
// harmless.
func (c *Clients) Client(ctx context.Context, publisher transfer.PublisherID, app transfer.AppleApp, env string) (*Client, error) {
	k := clientKey{publisher, app.BundleID, env}
	now := c.now()
	c.mu.Lock()
	cached, ok := c.cache[k]
	c.mu.Unlock()
	if ok && now.Before(cached.until) {
		return cached.client, nil
	}
	client, err := c.connector.Client(ctx, publisher, app, env)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cache[k] = cachedClient{client: client, until: now.Add(c.ttl)}
	c.mu.Unlock()
	return client, nil
}
