// Package secrets keeps keys read from AWS Secrets Manager: fetched at init,
// cached in the container, fetched again on a TTL and when a key did not
// verify something (a rotation), so that a rotated secret is used without a
// redeploy. The values never go to an environment variable, a log line or an
// error: what is logged and returned names the secret, its version and stage,
// and why a value was refused, never the value.
package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

const (
	// DefaultTTL is how long fetched keys are used before they are fetched
	// again: the longest a rotated value waits to be seen when nothing
	// presented to the service needs it sooner.
	DefaultTTL = 5 * time.Minute
	// DefaultMissEvery spaces the fetches that a miss triggers (a token no
	// key verifies), so that requests with bad signatures, which anyone can
	// send, cannot turn into Secrets Manager calls.
	DefaultMissEvery = 30 * time.Second
	// retryEvery spaces the fetches while no key could be loaded yet, so an
	// outage does not turn every request into a call.
	retryEvery = time.Second
	// requestWait is the longest a request waits for a fetch (its own, or
	// one under way); the fetch goes on after it gives up.
	requestWait = 800 * time.Millisecond
	// fetchTimeout bounds one fetch (both stages), whoever waits for it.
	fetchTimeout = 3 * time.Second
)

// Stages of a secret's versions: the value to use, and the one before it,
// which Secrets Manager keeps labelled during and after a rotation.
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
)

// ErrUnavailable is wrapped when no key has been loaded: the secret could not
// be read, or its value was refused.
var ErrUnavailable = errors.New("secret unavailable")

// API is what Keys uses of Secrets Manager.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// NewClient is the Secrets Manager client of a function; endpoint overrides
// the SDK's (AWS_ENDPOINT_URL_SECRETS_MANAGER, to reach moto locally).
func NewClient(cfg aws.Config, endpoint string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// Decode turns a secret's value into a key, or says why the value is not
// one. Its error must not quote the value.
type Decode func(value []byte) ([]byte, error)

// Option tunes Keys.
type Option func(*Keys)

// WithPrevious keeps the AWSPREVIOUS version's key too, after the current
// one: both verify during a rotation's overlap (HS256 tokens signed before
// it, values sealed before it).
func WithPrevious() Option { return func(k *Keys) { k.previous = true } }

// WithTTL sets how long fetched keys are used before a fetch (DefaultTTL).
func WithTTL(d time.Duration) Option { return func(k *Keys) { k.ttl = d } }

// WithMissEvery sets the least time between two fetches triggered by misses
// (DefaultMissEvery).
func WithMissEvery(d time.Duration) Option { return func(k *Keys) { k.missEvery = d } }

// WithRequestWait sets the longest a request waits for a fetch (800 ms);
// tests on a loaded machine wait longer, within their context.
func WithRequestWait(d time.Duration) Option { return func(k *Keys) { k.wait = d } }

// Keys is one secret's keys: AWSCURRENT's first, then AWSPREVIOUS's when
// WithPrevious. Safe for concurrent use.
type Keys struct {
	api       API
	id        string
	decode    Decode
	previous  bool
	ttl       time.Duration
	missEvery time.Duration
	wait      time.Duration // requestWait
	now       func() time.Time

	mu        sync.Mutex
	keys      [][]byte
	version   string    // AWSCURRENT's VersionId of keys
	checked   time.Time // when keys were last confirmed current
	attempted time.Time // when the last fetch started
	missed    time.Time // when a miss last triggered a fetch
	fetching  chan struct{}
	lastErr   error // the last fetch's failure, nil after a success
}

// New keeps the keys of the secret id (a name or an ARN), each value checked
// by decode.
func New(api API, id string, decode Decode, opts ...Option) *Keys {
	k := &Keys{api: api, id: id, decode: decode, ttl: DefaultTTL, missEvery: DefaultMissEvery, wait: requestWait, now: time.Now}
	for _, o := range opts {
		o(k)
	}
	return k
}

// ID is the secret's name or ARN, as configured.
func (k *Keys) ID() string { return k.id }

// Load fetches the keys, waiting for the fetch (within ctx and its own
// timeout): a function's init. A failure is returned and also left for the
// requests, which try again.
func (k *Keys) Load(ctx context.Context) error {
	done := k.startFetch(ctx, false)
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("secret %s: %w: %w", k.id, ErrUnavailable, ctx.Err())
	}
	_, err := k.held()
	return err
}

// Current returns the keys. When they are older than the TTL, it fetches
// them first (waiting a bounded time, within ctx); if that fails the keys
// held are used still. It fails, wrapping ErrUnavailable, only while no key
// has ever been loaded.
func (k *Keys) Current(ctx context.Context) ([][]byte, error) {
	k.mu.Lock()
	now := k.now()
	// Without keys, or with keys past the TTL, a fetch is due; but not
	// sooner than retryEvery after the last one, which may have failed.
	stale := (k.keys == nil || now.Sub(k.checked) >= k.ttl) && now.Sub(k.attempted) >= retryEvery
	k.mu.Unlock()
	if stale {
		k.await(ctx, k.startFetch(ctx, false))
	}
	return k.held()
}

// Refresh is called when none of the keys verified something: it fetches
// them again, unless a miss did so less than the miss interval ago, and says
// whether the keys changed (then the caller tries the new ones).
func (k *Keys) Refresh(ctx context.Context) ([][]byte, bool) {
	k.mu.Lock()
	before := k.version
	due := k.now().Sub(k.missed) >= k.missEvery
	if due {
		k.missed = k.now()
	}
	k.mu.Unlock()
	if due {
		k.await(ctx, k.startFetch(ctx, true))
	}
	keys, _ := k.held()
	k.mu.Lock()
	changed := k.version != before
	k.mu.Unlock()
	return keys, changed
}

func (k *Keys) held() ([][]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		err := k.lastErr
		if err == nil {
			err = errors.New("not loaded yet")
		}
		return nil, fmt.Errorf("secret %s: %w: %w", k.id, ErrUnavailable, err)
	}
	return k.keys, nil
}

// await waits for a fetch, at most requestWait and within ctx.
func (k *Keys) await(ctx context.Context, done <-chan struct{}) {
	t := time.NewTimer(k.wait)
	defer t.Stop()
	select {
	case <-done:
	case <-ctx.Done():
	case <-t.C:
	}
}

// startFetch starts a fetch unless one is under way, and returns what is
// closed when the one under way ends. The fetch runs on its own timeout, not
// the caller's context, so that a caller giving up does not waste it.
func (k *Keys) startFetch(ctx context.Context, miss bool) <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fetching != nil {
		return k.fetching
	}
	done := make(chan struct{})
	k.fetching = done
	k.attempted = k.now()
	go func() {
		defer close(done)
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		err := k.fetch(fctx)
		if err != nil {
			// The value is never in err: see fetch.
			slog.ErrorContext(fctx, "cannot update a secret's keys; the keys held stay in use", "secret", k.id, "miss", miss, "error", err)
		}
		k.mu.Lock()
		k.lastErr = err
		k.fetching = nil
		k.mu.Unlock()
	}()
	return done
}

// fetch reads AWSCURRENT (and AWSPREVIOUS when AWSCURRENT changed) and
// replaces the keys only when the current value decodes: a refused value
// leaves the keys held in place. A previous value that is refused is only
// left out.
func (k *Keys) fetch(ctx context.Context) error {
	value, version, err := k.read(ctx, stageCurrent)
	if err != nil {
		return err
	}
	k.mu.Lock()
	same := k.keys != nil && version == k.version
	if same {
		k.checked = k.now()
	}
	k.mu.Unlock()
	if same {
		return nil
	}
	current, err := k.decode(value)
	if err != nil {
		return fmt.Errorf("secret %s (%s, version %s) refused: %w", k.id, stageCurrent, version, err)
	}
	keys := [][]byte{current}
	if k.previous {
		value, prevVersion, err := k.read(ctx, stagePrevious)
		var notFound *smtypes.ResourceNotFoundException
		switch {
		case errors.As(err, &notFound):
			// A secret that was never rotated has no previous version.
		case err != nil:
			return err
		default:
			prev, err := k.decode(value)
			if err != nil {
				slog.ErrorContext(ctx, "a secret's previous version is refused; only the current one is used", "secret", k.id,
					"stage", stagePrevious, "version", prevVersion, "error", err)
			} else if !bytes.Equal(prev, current) {
				keys = append(keys, prev)
			}
		}
	}
	k.mu.Lock()
	k.keys, k.version, k.checked = keys, version, k.now()
	k.mu.Unlock()
	slog.InfoContext(ctx, "secret loaded", "secret", k.id, "version", version, "keys", len(keys))
	return nil
}

// read gets one stage's value and its version id.
func (k *Keys) read(ctx context.Context, stage string) ([]byte, string, error) {
	out, err := k.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &k.id, VersionStage: aws.String(stage)})
	if err != nil {
		// An SDK error carries the request and the service's message, never
		// a secret value (an error response has none).
		return nil, "", fmt.Errorf("read secret %s (%s): %w", k.id, stage, err)
	}
	value := out.SecretBinary
	if out.SecretString != nil {
		value = []byte(*out.SecretString)
	}
	return value, aws.ToString(out.VersionId), nil
}
