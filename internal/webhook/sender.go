package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// Sender makes one HTTP attempt of a delivery.
type Sender struct {
	client  *http.Client
	timeout time.Duration
}

// NewSender sends through the egress policy's client; an attempt that has
// no response within timeout fails.
func NewSender(policy egress.Policy, timeout time.Duration) *Sender {
	return &Sender{client: policy.Client(timeout), timeout: timeout}
}

// userAgent names the sender to receivers' logs.
const userAgent = "purchase-transfer-webhooks/1"

// Send POSTs a signed body. The response body is never read beyond a small
// drain (to reuse the connection), never logged, never stored.
func (s *Sender) Send(ctx context.Context, target, id string, at time.Time, body []byte, keys [][]byte) Answer {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Answer{Err: errors.New("invalid endpoint URL")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if err := Sign(req.Header, id, at, body, keys); err != nil {
		return Answer{Err: err}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return Answer{Err: s.describe(err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	a := Answer{Status: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		a.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return a
}

// describe turns a client error into one that names the failure but not the
// URL (which may carry a receiver's token in its query).
func (s *Sender) describe(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("no response within %v: %w", s.timeout, context.DeadlineExceeded)
		}
		return ue.Err
	}
	return err
}

// Description is the short text stored and logged for an attempt: the status
// or the failure, never a response body.
func (a Answer) Description() string {
	if a.Err != nil {
		const limit = 200
		msg := a.Err.Error()
		if len(msg) > limit {
			msg = msg[:limit]
		}
		return msg
	}
	return fmt.Sprintf("HTTP %d %s", a.Status, http.StatusText(a.Status))
}
