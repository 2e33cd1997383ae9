package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// The key set of RS256/ES256 tokens is needed on a request's path (the first
// token, and a token whose kid is unknown), so every fetch and every wait is
// bounded: any caller can present a token with a random kid, before any
// signature is checked.
const (
	// jwksRequestWait is the longest a request waits for keys: for the first
	// fetch under way, or for the refetch its unknown kid triggers (which
	// runs within the request and ends with it), or for the unknown-kid rate
	// limit. A request whose key set hangs is refused (401) within it.
	jwksRequestWait = 800 * time.Millisecond
	// jwksFetchTimeout bounds a fetch outside any request (the first one,
	// which the requests waiting for it may give up on, and the hourly
	// refresh), body included.
	jwksFetchTimeout = 2 * time.Second
	// jwksMaxBytes bounds the key set's body. Real ones are a few KiB.
	jwksMaxBytes = 64 << 10
	// jwksUnknownKIDEvery spaces the fetches that unknown kids trigger, so
	// tokens with random kids cannot turn requests into fetches. A key the
	// issuer publishes is seen at the latest this long after its first token
	// (or at the next hourly refresh).
	jwksUnknownKIDEvery = time.Minute
	// jwksRefreshInterval is how often the key set is fetched in the
	// background, for the life of the container.
	jwksRefreshInterval = time.Hour
	// jwksRetryInterval spaces the first fetches of a key set that could not
	// be loaded, so an outage of the issuer does not turn every request into
	// a fetch.
	jwksRetryInterval = time.Second
)

// loopbackHosts may serve a key set over plain http: local stacks and tests.
var loopbackHosts = map[string]bool{"127.0.0.1": true, "localhost": true, "::1": true}

// CheckJWKSURL says whether a JWKS URL may be used: an absolute https URL
// without credentials. Plain http is allowed only for a loopback host
// (127.0.0.1, localhost, ::1), which local stacks and tests serve on.
func CheckJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("the JWKS URL is not a URL: %w", err)
	case u.Host == "":
		return fmt.Errorf("the JWKS URL %q is not an absolute URL", raw)
	case u.User != nil:
		return errors.New("the JWKS URL must not carry credentials")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopbackHosts[u.Hostname()]:
		return nil
	}
	return fmt.Errorf("the JWKS URL %q must be https (plain http only on a loopback host: 127.0.0.1, localhost, ::1)", u.Redacted())
}

var errJWKSRedirect = errors.New("the JWKS URL redirected; redirects are not followed")

// newJWKSClient is the HTTP client of key set fetches: a timeout, no
// redirects, no proxy from the environment, https only, a bounded body.
func newJWKSClient(timeout time.Duration) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// The key set comes straight from its issuer, never through whatever
	// HTTPS_PROXY the environment names.
	base.Proxy = nil
	return &http.Client{
		Timeout:       timeout,
		Transport:     jwksTransport{base: base},
		CheckRedirect: func(*http.Request, []*http.Request) error { return errJWKSRedirect },
	}
}

// jwksTransport refuses what CheckJWKSURL refuses (whatever configured the
// verifier), and bounds the body the key set library decodes.
type jwksTransport struct{ base http.RoundTripper }

func (t jwksTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := CheckJWKSURL(req.URL.String()); err != nil {
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > jwksMaxBytes {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("the JWKS is %d bytes, more than the %d accepted", resp.ContentLength, jwksMaxBytes)
	}
	// Reading past the limit fails (a *http.MaxBytesError), so a body of
	// unknown length is cut off there and its decoding fails.
	resp.Body = http.MaxBytesReader(nil, resp.Body, jwksMaxBytes)
	return resp, nil
}

// lazyJWKS fetches the key set on first use, once for all the requests that
// need it meanwhile; each of them waits at most until its own context ends
// or wait has passed. A failed fetch is retried by a later token (at most
// once per jwksRetryInterval), instead of keeping an empty key set until the
// library's next refresh.
type lazyJWKS struct {
	url     string
	timeout time.Duration // jwksFetchTimeout
	wait    time.Duration // jwksRequestWait
	client  *http.Client

	mu          sync.Mutex
	kf          keyfunc.Keyfunc
	stop        context.CancelFunc // ends the fetch under way, or the background refresh of kf
	loading     chan struct{}      // closed when the fetch under way ends
	lastAttempt time.Time
	lastErr     error
}

func newLazyJWKS(u string, timeout, wait time.Duration) *lazyJWKS {
	return &lazyJWKS{url: u, timeout: timeout, wait: wait, client: newJWKSClient(timeout)}
}

// key is the jwt.Keyfunc of RS256/ES256 tokens, bounded by the request's
// context and by l.wait.
func (l *lazyJWKS) key(ctx context.Context, t *jwt.Token) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, l.wait)
	defer cancel()
	kf, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	// An unknown kid's refetch runs within ctx, and ends with it.
	return kf.KeyfuncCtx(ctx)(t)
}

func (l *lazyJWKS) get(ctx context.Context) (keyfunc.Keyfunc, error) {
	l.mu.Lock()
	if l.kf != nil {
		kf := l.kf
		l.mu.Unlock()
		return kf, nil
	}
	if l.loading == nil {
		if !l.lastAttempt.IsZero() && time.Since(l.lastAttempt) < jwksRetryInterval {
			err := l.lastErr
			l.mu.Unlock()
			return nil, err
		}
		l.lastAttempt = time.Now()
		l.loading = make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		l.stop = cancel
		go l.load(ctx, cancel, l.loading)
	}
	loading := l.loading
	l.mu.Unlock()

	select {
	case <-loading:
	case <-ctx.Done():
		return nil, fmt.Errorf("load JWKS: %w", context.Cause(ctx))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kf != nil {
		return l.kf, nil
	}
	return nil, l.lastErr
}

// load fetches the key set, bounded by l.timeout. The key set outlives
// the request that asked for it: it refreshes in the background for the life
// of the container, which is why it does not run under the request's
// context; cancel ends both.
func (l *lazyJWKS) load(ctx context.Context, cancel context.CancelFunc, done chan struct{}) {
	failFirst := false
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{l.url}, keyfunc.Override{
		Client:                    l.client,
		HTTPTimeout:               l.timeout,
		NoErrorReturnFirstHTTPReq: &failFirst,
		RefreshInterval:           jwksRefreshInterval,
		// An unknown kid refetches the key set within the request's context
		// (key), at most once per jwksUnknownKIDEvery. A request that finds
		// the limit spent does not wait for it (the library's default waits
		// up to a minute): rate.Limiter.Wait fails at once when the wait
		// would outlast its context, here at most l.wait.
		RefreshUnknownKID: rate.NewLimiter(rate.Every(jwksUnknownKIDEvery), 1),
		RateLimitWaitMax:  l.wait,
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		cancel() // the library's refresh goroutine, started before the fetch failed
		l.lastErr = fmt.Errorf("load JWKS: %w", err)
	} else {
		l.kf = kf
	}
	l.loading = nil
	close(done)
}

func (l *lazyJWKS) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stop != nil {
		l.stop()
	}
}
