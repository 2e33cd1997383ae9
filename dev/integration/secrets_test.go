package integration_test

import (
	"bytes"
	"crypto/rand"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/secrets"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// The HS256 key comes from Secrets Manager (moto here), read by the code the
// Lambdas run. These tests are not parallel: each captures the process's log
// to show that no key value is ever in it.

// logBuffer is the log of one test, every level.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func captureLog(t *testing.T) *logBuffer {
	l := &logBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return l
}

func mintWith(t *testing.T, key string, p publisher, c transfer.CustomerID) string {
	t.Helper()
	tok, err := auth.MintHS256([]byte(key), p.id, c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func bearer(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
}

func rotateSecret(t *testing.T, e *env, value string) {
	t.Helper()
	if err := stack.PutSecret(t.Context(), e.jwtSecretID, value); err != nil {
		t.Fatal(err)
	}
}

func noSecretIn(t *testing.T, what, text string, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(text, v) {
			t.Errorf("%s holds a secret value:\n%s", what, text)
		}
	}
}

// A rotation in Secrets Manager is picked up by the running service, without
// a restart: a token of the new key is accepted, one of the previous key too
// (the overlap), one of the key two rotations back is refused.
func TestRotatedHS256KeyIsPickedUpWithoutRestart(t *testing.T) {
	log := captureLog(t)
	e := newEnv(t, func(c *envConfig) {
		// Misses may fetch back to back here; the functions space them 30 s.
		c.keyOpts = []secrets.Option{secrets.WithMissEvery(0), secrets.WithRequestWait(time.Minute)}
	})
	p := e.seedPublisher(true, false)
	c := e.seedCustomers(p, 1)[0]
	k1, k2, k3 := string(e.jwtSecret), rand.Text()+rand.Text(), rand.Text()+rand.Text()
	// A valid customer JWT of an unknown synchronization is 404; a refused one 401.
	statusWith := func(key string) int {
		return e.status(bearer(mintWith(t, key, p, c)), "unknown-"+strconv.FormatInt(newID(), 10)).status
	}
	if got := statusWith(k1); got != http.StatusNotFound {
		t.Fatalf("the loaded key: %d, want 404", got)
	}

	rotateSecret(t, e, k2)
	if got := statusWith(k2); got != http.StatusNotFound {
		t.Errorf("a token of the rotated-in key: %d, want 404 (accepted)", got)
	}
	if got := statusWith(k1); got != http.StatusNotFound {
		t.Errorf("a token of the previous key during the overlap: %d, want 404 (accepted)", got)
	}
	r := e.transfer(bearer(mintWith(t, k2, p, c)), transferBody(c, newTxID()))
	if r.status != http.StatusAccepted {
		t.Errorf("a transfer with a token of the new key: %d %s", r.status, r.raw)
	}

	rotateSecret(t, e, k3)
	if got := statusWith(k3); got != http.StatusNotFound {
		t.Errorf("a token of the key after a second rotation: %d, want 404", got)
	}
	if got := statusWith(k2); got != http.StatusNotFound {
		t.Errorf("a token of the previous key: %d, want 404", got)
	}
	if got := statusWith(k1); got != http.StatusUnauthorized {
		t.Errorf("a token of the key two rotations back: %d, want 401", got)
	}
	noSecretIn(t, "the log", log.String(), k1, k2, k3)
}

// A rotated value under 32 bytes is refused: the keys held stay in use, a
// token signed with the short value is refused, and the error logged says
// why without the value.
func TestTooShortRotatedHS256KeyIsRefused(t *testing.T) {
	log := captureLog(t)
	e := newEnv(t, func(c *envConfig) {
		c.keyOpts = []secrets.Option{secrets.WithMissEvery(0), secrets.WithRequestWait(time.Minute)}
	})
	p := e.seedPublisher(true, false)
	c := e.seedCustomers(p, 1)[0]
	good, short := string(e.jwtSecret), "a-short-key-"+strings.ToLower(rand.Text()[:8])
	rotateSecret(t, e, short)
	if r := e.status(bearer(mintWith(t, short, p, c)), "any"); r.status != http.StatusUnauthorized {
		t.Errorf("a token of the too-short key: %d %s, want 401", r.status, r.raw)
	}
	if r := e.status(bearer(mintWith(t, good, p, c)), "any"); r.status != http.StatusNotFound {
		t.Errorf("a token of the key held: %d %s, want 404 (accepted)", r.status, r.raw)
	}
	out := log.String()
	if !strings.Contains(out, "at least 32 bytes") || !strings.Contains(out, e.jwtSecretID) {
		t.Errorf("no error naming the secret and the rule was logged:\n%s", out)
	}
	noSecretIn(t, "the log", out, good, short)
}

// A secret that cannot be read: customer JWTs get the documented 500 S0004
// with the generic message (no AWS error text, no secret name); publisher
// tokens, which need no key, still work.
func TestUnreadableHS256KeyAnswers500S0004(t *testing.T) {
	log := captureLog(t)
	missing := "integration/missing-" + strconv.FormatInt(newID(), 10)
	e := newEnv(t, func(c *envConfig) { c.jwtSecretID = missing })
	p := e.seedPublisher(true, false)
	c := e.seedCustomers(p, 1)[0]
	for _, r := range []response{
		e.status(bearer(e.jwt(p, c)), "any"),
		e.transfer(bearer(e.jwt(p, c)), transferBody(c, newTxID())),
	} {
		if r.status != http.StatusInternalServerError || r.code() != string(transfer.CodeSecretFailure) {
			t.Errorf("with the key unreadable: %d %s, want 500 %s", r.status, r.raw, transfer.CodeSecretFailure)
		}
		if r.str("message") != "Internal error, please retry later." || strings.Contains(r.raw, missing) ||
			strings.Contains(r.raw, "ResourceNotFound") {
			t.Errorf("the 500 tells more than the generic message: %s", r.raw)
		}
	}
	if r := e.status(tokenHeader(p), "any"); r.status != http.StatusNotFound {
		t.Errorf("a publisher token with the HS256 key unreadable: %d %s, want 404", r.status, r.raw)
	}
	if !strings.Contains(log.String(), missing) {
		t.Errorf("the failure to read %s was not logged:\n%s", missing, log.String())
	}
	noSecretIn(t, "the log", log.String(), string(e.jwtSecret))
}
