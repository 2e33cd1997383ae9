package appstoreapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
)

// Apple's hosts of the App Store Server API.
const (
	ProductionURL = "https://api.storekit.itunes.apple.com"
	SandboxURL    = "https://api.storekit-sandbox.itunes.apple.com"
)

// BaseURL is the API's base URL for an environment: override when set (the
// APPLE_API_BASE_URL of tests and `make run`), else Apple's host of env.
func BaseURL(env, override string) string {
	switch {
	case override != "":
		return strings.TrimRight(override, "/")
	case env == apple.EnvironmentSandbox:
		return SandboxURL
	default:
		return ProductionURL
	}
}

// Verifier verifies what Apple signs; *apple.Verifier is one, the same the
// notifications endpoint uses.
type Verifier interface {
	VerifyNotification(ctx context.Context, signedPayload string) (apple.Notification, error)
	VerifyTransaction(ctx context.Context, jws string) (apple.TransactionInfo, error)
	VerifyRenewal(ctx context.Context, jws string) (apple.RenewalInfo, error)
}

// Retry is how the client retries rate limits (429), 5xx and failed
// connections: up to Attempts tries, waiting a full-jitter exponential
// backoff from Base up to Max between them, or longer when Apple's
// Retry-After says so; never past the context's deadline.
type Retry struct {
	Attempts  int
	Base, Max time.Duration
}

// DefaultRetry suits an operator's command and a scheduled function alike.
var DefaultRetry = Retry{Attempts: 6, Base: 250 * time.Millisecond, Max: 8 * time.Second}

// maxResponseBytes bounds what is read of an answer: a page of notification
// history (20 signed payloads) is well under it.
const maxResponseBytes = 8 << 20

// Sentinels an *APIError matches with errors.Is.
var (
	// ErrUnauthorized: 401, the key, issuer or bundle id is wrong or revoked.
	ErrUnauthorized = errors.New("the App Store Server API refused the key")
	// ErrNotFound: 404, e.g. a transactionId Apple does not know.
	ErrNotFound = errors.New("not found by the App Store Server API")
	// ErrRateLimited: 429 still after the retries.
	ErrRateLimited = errors.New("rate limited by the App Store Server API")
)

// APIError is an answer other than 2xx.
type APIError struct {
	Op      string // the endpoint, e.g. "Get Transaction Info"
	Status  int
	Code    int64  // Apple's errorCode, when it sent one
	Message string // Apple's errorMessage
	key     Key
}

func (e *APIError) Error() string {
	if e.Status == http.StatusUnauthorized {
		return fmt.Sprintf("%s: 401 Unauthorized: Apple refused %s for bundle id %s: check the issuer id, the key id, the .p8 and the app's bundle id (transferctl publisher apple set), and that the key is not revoked",
			e.Op, e.key, e.key.BundleID)
	}
	s := fmt.Sprintf("%s: HTTP %d", e.Op, e.Status)
	if e.Code != 0 {
		s += fmt.Sprintf(" (errorCode %d: %s)", e.Code, e.Message)
	}
	return s
}

// Is matches the sentinels by status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// Client calls the App Store Server API for one app with one key.
type Client struct {
	base     string
	key      Key
	verifier Verifier
	// http bounds each attempt to 30 s; the context bounds the whole call.
	http  *http.Client
	retry Retry
	now   func() time.Time
}

// Option tunes a Client.
type Option func(*Client)

// WithRetry replaces DefaultRetry.
func WithRetry(r Retry) Option { return func(c *Client) { c.retry = r } }

// New is a client of the API at baseURL (BaseURL), signing with key and
// verifying what Apple signs with v.
func New(baseURL string, key Key, v Verifier, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), key: key, verifier: v,
		http: &http.Client{Timeout: 30 * time.Second}, retry: DefaultRetry, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c
}

// call sends one request (retried as Retry says) and decodes a 2xx answer
// into out.
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("%s: encode the request: %w", op, err)
		}
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var last error // the previous attempt's failure
	for attempt := 1; ; attempt++ {
		status, header, b, err := c.once(ctx, method, target, payload)
		var retryAfter time.Duration
		switch {
		case err != nil && ctx.Err() != nil:
			// The deadline ended this attempt: what the ones before met
			// is the useful part of the error.
			if last != nil {
				return fmt.Errorf("%w (%w during attempt %d)", last, ctx.Err(), attempt)
			}
			return fmt.Errorf("%s: %w", op, ctx.Err())
		case err != nil:
			last = fmt.Errorf("%s: %w", op, err)
		case status >= 200 && status < 300:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(b, out); err != nil {
				return fmt.Errorf("%s: decode the answer: %w", op, err)
			}
			return nil
		case status == http.StatusTooManyRequests:
			last = c.apiError(op, status, b)
			retryAfter = parseRetryAfter(header.Get("Retry-After"), c.now())
		case status >= 500:
			last = c.apiError(op, status, b)
		default:
			return c.apiError(op, status, b)
		}
		if attempt >= c.retry.Attempts {
			return fmt.Errorf("%w (after %d attempts)", last, attempt)
		}
		wait := max(c.backoff(attempt), retryAfter)
		if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
			return fmt.Errorf("%w (no time left to retry within the deadline)", last)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (%w while waiting to retry)", last, ctx.Err())
		case <-t.C:
		}
	}
}

// once is one attempt, with a fresh bearer token.
func (c *Client) once(ctx context.Context, method, target string, payload []byte) (int, http.Header, []byte, error) {
	token, err := c.key.Token(c.now())
	if err != nil {
		return 0, nil, nil, err
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

func (c *Client) apiError(op string, status int, body []byte) *APIError {
	e := &APIError{Op: op, Status: status, key: c.key}
	var r ErrorResponse
	if json.Unmarshal(body, &r) == nil {
		e.Code, e.Message = r.ErrorCode, r.ErrorMessage
	}
	return e
}

// backoff is a full-jitter exponential wait before attempt+1: many clients
// limited at once do not come back in step.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := min(c.retry.Max, c.retry.Base<<min(attempt-1, 20))
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// parseRetryAfter reads Retry-After: seconds, or an HTTP date; 0 when absent
// or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
