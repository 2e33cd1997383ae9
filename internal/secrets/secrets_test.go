package secrets_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/acme/purchase-transfer/dev/emulator"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/secrets"
)

// sm is the Secrets Manager client on the moto server TestMain starts.
var sm *secretsmanager.Client

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	server, err := emulator.StartMoto(ctx, emulator.Options{})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "moto:", err)
		os.Exit(1)
	}
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	sm = secrets.NewClient(cfg, server.Endpoint)
	code := m.Run()
	_ = server.Stop()
	os.Exit(code)
}

func needMoto(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs moto's server (not under -short)")
	}
}

// logs captures what the package logs during a test, to show that no value
// ever appears in it.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func captureLogs(t *testing.T) *logs {
	l := &logs{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return l
}

// patient lets requests wait for a fetch as long as their context allows,
// so that a slow emulator on a loaded machine cannot fail a test.
var patient = secrets.WithRequestWait(time.Minute)

// value is a fresh random key of 52 bytes.
func value() string { return rand.Text() + rand.Text() }

func newSecret(t *testing.T, v string) string {
	t.Helper()
	name := "test/" + strings.ToLower(rand.Text()[:10])
	if _, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: &v}); err != nil {
		t.Fatal(err)
	}
	return name
}

func rotate(t *testing.T, name, v string) {
	t.Helper()
	if _, err := sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: &v}); err != nil {
		t.Fatal(err)
	}
}

func mint(t *testing.T, key string) string {
	t.Helper()
	tok, err := auth.MintHS256([]byte(key), 1, 2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func verifies(v *auth.Verifier, token string) bool {
	_, err := v.Verify(context.Background(), token)
	return err == nil
}

// noValueIn fails when any of values shows in text.
func noValueIn(t *testing.T, what, text string, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(text, v) {
			t.Errorf("%s holds a secret value: %s", what, text)
		}
	}
}

// A rotation is picked up without a restart: after PutSecretValue, a token of
// the new key verifies (its miss fetched the keys again), one of the previous
// key still does (AWSPREVIOUS), one of the key two back does not.
func TestRotatedHS256KeyIsPickedUp(t *testing.T) {
	needMoto(t)
	log := captureLogs(t)
	v1, v2, v3 := value(), value(), value()
	name := newSecret(t, v1)
	keys := secrets.New(sm, name, auth.DecodeHS256Key, secrets.WithPrevious(), secrets.WithMissEvery(0), patient)
	if err := keys.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	v := auth.NewVerifier(auth.JWTConfig{HS256Keys: keys})
	if !verifies(v, mint(t, v1)) {
		t.Fatal("a token of the loaded key does not verify")
	}

	rotate(t, name, v2)
	if !verifies(v, mint(t, v2)) {
		t.Error("a token of the rotated-in key does not verify")
	}
	if !verifies(v, mint(t, v1)) {
		t.Error("a token of the previous key no longer verifies during the overlap")
	}

	rotate(t, name, v3)
	if !verifies(v, mint(t, v3)) {
		t.Error("a token of the key after a second rotation does not verify")
	}
	if !verifies(v, mint(t, v2)) {
		t.Error("a token of the previous key does not verify")
	}
	if verifies(v, mint(t, v1)) {
		t.Error("a token of the key two rotations back still verifies")
	}
	noValueIn(t, "the log", log.String(), v1, v2, v3)
}

// Without a miss, a rotation is seen once the TTL has passed.
func TestKeysAreFetchedAgainAfterTheTTL(t *testing.T) {
	needMoto(t)
	v1, v2 := value(), value()
	name := newSecret(t, v1)
	now := time.Now()
	keys := secrets.New(sm, name, auth.DecodeHS256Key, secrets.WithPrevious(), secrets.WithTTL(time.Minute), patient)
	secrets.SetClock(keys, func() time.Time { return now })
	if err := keys.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	rotate(t, name, v2)
	got, err := keys.Current(t.Context())
	if err != nil || len(got) != 1 || string(got[0]) != v1 {
		t.Fatalf("within the TTL: %d keys, %v; want the one loaded", len(got), err)
	}
	now = now.Add(time.Minute)
	got, err = keys.Current(t.Context())
	if err != nil || len(got) != 2 || string(got[0]) != v2 || string(got[1]) != v1 {
		t.Fatalf("after the TTL: %d keys, %v; want the rotated one, then the previous", len(got), err)
	}
}

// A rotated value under the HS256 minimum is refused: the keys held stay, and
// the error logged names the secret and the rule, not the value.
func TestTooShortRotatedValueIsRefused(t *testing.T) {
	needMoto(t)
	log := captureLogs(t)
	good, short := value(), "only-twenty-one-bytes"
	name := newSecret(t, good)
	keys := secrets.New(sm, name, auth.DecodeHS256Key, secrets.WithPrevious(), secrets.WithMissEvery(0), patient)
	if err := keys.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	rotate(t, name, short)
	got, changed := keys.Refresh(t.Context())
	if changed || len(got) != 1 || string(got[0]) != good {
		t.Errorf("Refresh after a too-short rotation: changed %v, %d keys; want the good key kept", changed, len(got))
	}
	v := auth.NewVerifier(auth.JWTConfig{HS256Keys: keys})
	if !verifies(v, mint(t, good)) {
		t.Error("the key held no longer verifies")
	}
	out := log.String()
	if !strings.Contains(out, "at least 32 bytes") || !strings.Contains(out, name) {
		t.Errorf("no error naming the secret and the rule was logged: %s", out)
	}
	noValueIn(t, "the log", out, good, short)

	// Refused at load too: then nothing is held.
	other := newSecret(t, short)
	err := secrets.New(sm, other, auth.DecodeHS256Key).Load(t.Context())
	if !errors.Is(err, secrets.ErrUnavailable) {
		t.Errorf("Load of a too-short value: %v, want ErrUnavailable", err)
	}
	noValueIn(t, "the error", fmt.Sprint(err), short)
}

// A secret that cannot be read leaves no key: Current fails with
// ErrUnavailable (the handlers' 500 S0004), and works once it can be read,
// retried by the requests.
func TestUnreadableSecret(t *testing.T) {
	needMoto(t)
	log := captureLogs(t)
	name := "test/missing-" + strings.ToLower(rand.Text()[:10])
	now := time.Now()
	keys := secrets.New(sm, name, auth.DecodeHS256Key, patient)
	secrets.SetClock(keys, func() time.Time { return now })
	if err := keys.Load(t.Context()); !errors.Is(err, secrets.ErrUnavailable) || !strings.Contains(err.Error(), name) {
		t.Fatalf("Load of a missing secret: %v, want ErrUnavailable naming it", err)
	}
	if _, err := keys.Current(t.Context()); !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Current: %v, want ErrUnavailable", err)
	}
	v := value()
	if _, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: &v}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	got, err := keys.Current(t.Context())
	if err != nil || len(got) != 1 || string(got[0]) != v {
		t.Fatalf("Current once the secret exists: %d keys, %v", len(got), err)
	}
	noValueIn(t, "the log", log.String(), v)
}

// Misses fetch at most once per interval, whatever tokens arrive.
func TestMissesAreRateLimited(t *testing.T) {
	needMoto(t)
	name := newSecret(t, value())
	now := time.Now()
	keys := secrets.New(sm, name, auth.DecodeHS256Key, secrets.WithMissEvery(30*time.Second), patient)
	secrets.SetClock(keys, func() time.Time { return now })
	if err := keys.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	rotate(t, name, value())
	if _, changed := keys.Refresh(t.Context()); !changed {
		t.Fatal("the first miss did not fetch the rotated key")
	}
	latest := value()
	rotate(t, name, latest)
	now = now.Add(29 * time.Second)
	if _, changed := keys.Refresh(t.Context()); changed {
		t.Error("a second miss within 30 s fetched the keys")
	}
	now = now.Add(time.Second)
	if got, changed := keys.Refresh(t.Context()); !changed || string(got[0]) != latest {
		t.Error("a miss 30 s after the last fetch did not fetch the keys")
	}
}
