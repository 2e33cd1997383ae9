package main

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/runenv"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// tokenEnv writes a run.env naming an HS256 key put in the local Secrets
// Manager, with the given extra settings; token needs nothing else.
func tokenEnv(t *testing.T, extra map[string]string) (file, secret string) {
	t.Helper()
	testkit.SkipWithoutStack(t)
	secret = "a-local-secret-of-at-least-32-bytes-0123456789"
	secretID := "transferctl-test/token-" + strings.ToLower(rand.Text()[:10])
	if err := stack.PutSecret(context.Background(), secretID, secret); err != nil {
		t.Fatal(err)
	}
	env := stack.Env()
	env[settingJWTSecretID] = secretID
	env[settingPublisher] = "123456789"
	for k, v := range extra {
		env[k] = v
	}
	file = filepath.Join(t.TempDir(), "run.env")
	if err := runenv.Write(file, env); err != nil {
		t.Fatal(err)
	}
	return file, secret
}

// --ttl is refused above the longest lifetime the service accepts (24 h, or
// JWT_MAX_LIFETIME_SECONDS), with exit 2 and no JWT; at the limit the JWT is
// minted and the service's verifier, so configured, accepts it.
func TestTokenTTLIsBoundedByTheServicesMaxLifetime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		extra   map[string]string
		ttl     string
		refused bool
		max     time.Duration
	}{
		{"default max, at it", nil, "24h", false, auth.DefaultMaxLifetime},
		{"default max, over it", nil, "24h1s", true, auth.DefaultMaxLifetime},
		{"default max, far over it", nil, "8760h", true, auth.DefaultMaxLifetime},
		{"configured max, at it", map[string]string{settingJWTMaxLifetime: "3600"}, "1h", false, time.Hour},
		{"configured max, over it", map[string]string{settingJWTMaxLifetime: "3600"}, "90m", true, time.Hour},
		{"a longer configured max", map[string]string{settingJWTMaxLifetime: "172800"}, "36h", false, 48 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file, secret := tokenEnv(t, tc.extra)
			r := runCtl("--local="+file, "token", "--customer", "42", "--ttl", tc.ttl)
			if tc.refused {
				if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "--ttl") || !strings.Contains(r.stderr, tc.max.String()) {
					t.Fatalf("want exit %d naming --ttl and %s, no JWT; got %v", exitUsage, tc.max, r)
				}
				return
			}
			if r.code != exitOK {
				t.Fatalf("want a JWT, got %v", r)
			}
			v := auth.NewVerifier(auth.JWTConfig{HS256Secret: []byte(secret), MaxLifetime: tc.max})
			cred, err := v.Verify(context.Background(), strings.TrimSpace(r.stdout))
			if err != nil || cred.Customer != 42 || cred.Publisher != transfer.PublisherID(123456789) {
				t.Errorf("the service would refuse it: %+v, %v", cred, err)
			}
		})
	}
}

func TestTokenRefusesABadMaxLifetimeSetting(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "-5", "a day"} {
		file, _ := tokenEnv(t, map[string]string{settingJWTMaxLifetime: v})
		if r := runCtl("--local="+file, "token", "--customer", "42"); r.code != exitUsage || !strings.Contains(r.stderr, settingJWTMaxLifetime) || r.stdout != "" {
			t.Errorf("%s=%q: want exit %d naming it, got %v", settingJWTMaxLifetime, v, exitUsage, r)
		}
	}
}
