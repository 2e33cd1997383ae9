package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/transfer"
)

var hsSecret = []byte("0123456789abcdef0123456789abcdef")

var testKeys = sync.OnceValue(func() struct {
	rsa, otherRSA *rsa.PrivateKey
	ec            *ecdsa.PrivateKey
} {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	o, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return struct {
		rsa, otherRSA *rsa.PrivateKey
		ec            *ecdsa.PrivateKey
	}{r, o, e}
})

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func pad32(n *big.Int) []byte {
	out := make([]byte, 32)
	return n.FillBytes(out)
}

func jwksJSON() []byte {
	k := testKeys()
	set := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
			"n": b64(k.rsa.N.Bytes()), "e": b64(big.NewInt(int64(k.rsa.E)).Bytes())},
		{"kty": "EC", "kid": "ec-1", "alg": "ES256", "use": "sig", "crv": "P-256",
			"x": b64(pad32(k.ec.X)), "y": b64(pad32(k.ec.Y))},
	}}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

// jwksServer serves the test key set on 127.0.0.1; the first failFirst
// requests answer 503.
type jwksServer struct {
	*httptest.Server
	hits      atomic.Int32
	failFirst int32
}

func newJWKSServer(t *testing.T, failFirst int32) *jwksServer {
	t.Helper()
	s := &jwksServer{failFirst: failFirst}
	body := jwksJSON()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if s.hits.Add(1) <= s.failFirst {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func claims(mod func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"customerId":  42,
		"publisherId": 7,
		"iat":         now.Unix(),
		"exp":         now.Add(time.Hour).Unix(),
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

var wantCred = transfer.Credential{Publisher: 7, Customer: 42}

func expectAccepted(t *testing.T, v *auth.Verifier, token string, want transfer.Credential) {
	t.Helper()
	got, err := v.Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("Verify refused a valid token: %v", err)
	}
	if got != want {
		t.Errorf("credential = %+v, want %+v", got, want)
	}
}

func expectRefused(t *testing.T, v *auth.Verifier, token string) {
	t.Helper()
	got, err := v.Verify(context.Background(), token)
	if err == nil {
		t.Fatalf("Verify accepted %q as %+v", token, got)
	}
	if !errors.Is(err, auth.ErrInvalidJWT) {
		t.Errorf("error %v does not wrap ErrInvalidJWT", err)
	}
	if got != (transfer.Credential{}) {
		t.Errorf("a refusal returned a credential: %+v", got)
	}
}

func TestJWTHS256(t *testing.T) {
	t.Parallel()
	v := auth.NewVerifier(auth.JWTConfig{HS256Secret: hsSecret})
	now := time.Now()
	tests := []struct {
		name   string
		token  string
		accept bool
		want   transfer.Credential
	}{
		{"valid", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(nil)), true, wantCred},
		{"string-digit ids", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) {
			c["customerId"], c["publisherId"] = "9876543210", "7"
		})), true, transfer.Credential{Publisher: 7, Customer: 9876543210}},
		{"largest ids", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) {
			c["customerId"], c["publisherId"] = "9223372036854775807", "9223372036854775807"
		})), true, transfer.Credential{Publisher: 1<<63 - 1, Customer: 1<<63 - 1}},
		{"iss and aud ignored when not configured", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) {
			c["iss"], c["aud"] = "anyone", "anything"
		})), true, wantCred},
		{"expired", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) {
			c["exp"] = now.Add(-time.Hour).Unix()
		})), false, transfer.Credential{}},
		{"no iat (a lifetime needs it)", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { delete(c, "iat") })), false, transfer.Credential{}},
		{"missing exp", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { delete(c, "exp") })), false, transfer.Credential{}},
		{"exp as string", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) {
			c["exp"] = "tomorrow"
		})), false, transfer.Credential{}},
		{"nbf in the future", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) {
			c["nbf"] = now.Add(time.Hour).Unix()
		})), false, transfer.Credential{}},
		{"iat in the future", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) {
			c["iat"] = now.Add(time.Hour).Unix()
		})), false, transfer.Credential{}},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, []byte("another secret of some length...."), "", claims(nil)), false, transfer.Credential{}},
		{"HS384 is not allowed", sign(t, jwt.SigningMethodHS384, hsSecret, "", claims(nil)), false, transfer.Credential{}},
		{"HS512 is not allowed", sign(t, jwt.SigningMethodHS512, hsSecret, "", claims(nil)), false, transfer.Credential{}},
		{"RS256 without a JWKS", sign(t, jwt.SigningMethodRS256, testKeys().rsa, "rsa-1", claims(nil)), false, transfer.Credential{}},
		{"ES256 without a JWKS", sign(t, jwt.SigningMethodES256, testKeys().ec, "ec-1", claims(nil)), false, transfer.Credential{}},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(nil)), false, transfer.Credential{}},
		{"missing customerId", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { delete(c, "customerId") })), false, transfer.Credential{}},
		{"missing publisherId", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { delete(c, "publisherId") })), false, transfer.Credential{}},
		{"zero customerId", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { c["customerId"] = 0 })), false, transfer.Credential{}},
		{"negative customerId", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { c["customerId"] = -42 })), false, transfer.Credential{}},
		{"negative string publisherId", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { c["publisherId"] = "-7" })), false, transfer.Credential{}},
		{"fractional customerId", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { c["customerId"] = 42.5 })), false, transfer.Credential{}},
		{"non-digit string customerId", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { c["customerId"] = "42a" })), false, transfer.Credential{}},
		{"empty string customerId", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { c["customerId"] = "" })), false, transfer.Credential{}},
		{"overflowing customerId", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { c["customerId"] = "9223372036854775808" })), false, transfer.Credential{}},
		{"boolean publisherId", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { c["publisherId"] = true })), false, transfer.Credential{}},
		{"null customerId", sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { c["customerId"] = nil })), false, transfer.Credential{}},
		{"garbage", "not-a-jwt", false, transfer.Credential{}},
		{"empty", "", false, transfer.Credential{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.accept {
				expectAccepted(t, v, tc.token, tc.want)
			} else {
				expectRefused(t, v, tc.token)
			}
		})
	}
}

func TestJWTAlgNoneRefusedWhateverIsConfigured(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, 0)
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", claims(nil))
	for name, cfg := range map[string]auth.JWTConfig{
		"hs256": {HS256Secret: hsSecret},
		"jwks":  {JWKSURL: srv.URL},
		"both":  {HS256Secret: hsSecret, JWKSURL: srv.URL},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expectRefused(t, auth.NewVerifier(cfg), none)
		})
	}
}

// verifyNoPanic reports a panic of Verify as a test failure instead of
// crashing the test binary.
func verifyNoPanic(t *testing.T, v *auth.Verifier, token string) (cred transfer.Credential, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("Verify panicked (the HTTP layer turns this into a 500 for client input): %v", p)
			err = errors.New("panicked")
		}
	}()
	return v.Verify(context.Background(), token)
}

func TestJWTNothingConfiguredForgedHS256(t *testing.T) {
	t.Parallel()
	v := auth.NewVerifier(auth.JWTConfig{})
	forged := sign(t, jwt.SigningMethodHS256, []byte{}, "", claims(nil))
	if cred, err := verifyNoPanic(t, v, forged); err == nil {
		t.Errorf("a JWT signed with an empty HS256 key was accepted as %+v", cred)
	}
}

func TestJWTNothingConfiguredOtherAlgsAre401Not500(t *testing.T) {
	t.Parallel()
	v := auth.NewVerifier(auth.JWTConfig{})
	for name, token := range map[string]string{
		"RS256": sign(t, jwt.SigningMethodRS256, testKeys().rsa, "rsa-1", claims(nil)),
		"ES256": sign(t, jwt.SigningMethodES256, testKeys().ec, "ec-1", claims(nil)),
		"HS384": sign(t, jwt.SigningMethodHS384, hsSecret, "", claims(nil)),
		"none":  sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(nil)),
	} {
		if cred, err := verifyNoPanic(t, v, token); err == nil {
			t.Errorf("%s accepted as %+v", name, cred)
		} else if !errors.Is(err, auth.ErrInvalidJWT) {
			t.Errorf("%s: error %v is not ErrInvalidJWT", name, err)
		}
	}
}

func TestJWTFromJWKS(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, 0)
	v := auth.NewVerifier(auth.JWTConfig{JWKSURL: srv.URL})
	k := testKeys()
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("NewVerifier fetched the JWKS %d times; it must do no I/O", n)
	}
	tests := []struct {
		name   string
		token  string
		accept bool
	}{
		{"RS256", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(nil)), true},
		{"ES256", sign(t, jwt.SigningMethodES256, k.ec, "ec-1", claims(nil)), true},
		{"RS256 string-digit ids", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(func(c jwt.MapClaims) {
			c["customerId"], c["publisherId"] = "42", "7"
		})), true},
		{"RS256 signed by another key", sign(t, jwt.SigningMethodRS256, k.otherRSA, "rsa-1", claims(nil)), false},
		{"wrong kid", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-unknown", claims(nil)), false},
		{"kid of the other key type", sign(t, jwt.SigningMethodRS256, k.rsa, "ec-1", claims(nil)), false},
		{"ES256 under the RSA kid", sign(t, jwt.SigningMethodES256, k.ec, "rsa-1", claims(nil)), false},
		{"RS512 is not allowed", sign(t, jwt.SigningMethodRS512, k.rsa, "rsa-1", claims(nil)), false},
		{"PS256 is not allowed", sign(t, jwt.SigningMethodPS256, k.rsa, "rsa-1", claims(nil)), false},
		{"ES384 is not allowed", sign(t, jwt.SigningMethodES384, mustEC384(t), "ec-1", claims(nil)), false},
		{"HS256 when only a JWKS is configured", sign(t, jwt.SigningMethodHS256, hsSecret, "rsa-1", claims(nil)), false},
		{"HS256 keyed with the RSA modulus", sign(t, jwt.SigningMethodHS256, k.rsa.N.Bytes(), "rsa-1", claims(nil)), false},
		{"expired RS256", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(func(c jwt.MapClaims) {
			c["exp"] = time.Now().Add(-time.Hour).Unix()
		})), false},
		{"RS256 without customerId", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(func(c jwt.MapClaims) {
			delete(c, "customerId")
		})), false},
	}
	for _, tc := range tests {
		// Sequential: they share one verifier and its lazily fetched key set.
		t.Run(tc.name, func(t *testing.T) {
			if tc.accept {
				expectAccepted(t, v, tc.token, wantCred)
			} else {
				expectRefused(t, v, tc.token)
			}
		})
	}
	if n := srv.hits.Load(); n < 1 {
		t.Errorf("the JWKS was never fetched")
	}
}

func mustEC384(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestJWTBothAlgorithmFamilies(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, 0)
	v := auth.NewVerifier(auth.JWTConfig{HS256Secret: hsSecret, JWKSURL: srv.URL})
	expectAccepted(t, v, sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(nil)), wantCred)
	expectAccepted(t, v, sign(t, jwt.SigningMethodRS256, testKeys().rsa, "rsa-1", claims(nil)), wantCred)
	expectAccepted(t, v, sign(t, jwt.SigningMethodES256, testKeys().ec, "ec-1", claims(nil)), wantCred)
}

func TestJWTJWKSFetchedOnceAndKept(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, 0)
	v := auth.NewVerifier(auth.JWTConfig{JWKSURL: srv.URL})
	token := sign(t, jwt.SigningMethodRS256, testKeys().rsa, "rsa-1", claims(nil))
	for range 5 {
		expectAccepted(t, v, token, wantCred)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times for 5 tokens of a known kid, want 1", n)
	}
}

func TestJWTJWKSOutageAtFirstUseRecoversOnNextToken(t *testing.T) {
	t.Parallel()
	// The key set is unavailable for the first fetch, then healthy again.
	srv := newJWKSServer(t, 1)
	v := auth.NewVerifier(auth.JWTConfig{JWKSURL: srv.URL})
	token := sign(t, jwt.SigningMethodRS256, testKeys().rsa, "rsa-1", claims(nil))
	expectRefused(t, v, token)
	// A later token fetches again (retries are spaced by a second, so an
	// outage does not turn every request into a fetch).
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := v.Verify(context.Background(), token); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("JWKS never reloaded after the outage")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (one failure, one success): retries must be spaced", n)
	}
}

func TestJWTIssuerAndAudience(t *testing.T) {
	t.Parallel()
	v := auth.NewVerifier(auth.JWTConfig{HS256Secret: hsSecret, Issuer: "https://id.example.com", Audience: "purchase-transfer"})
	tests := []struct {
		name   string
		mod    func(jwt.MapClaims)
		accept bool
	}{
		{"both match", func(c jwt.MapClaims) { c["iss"], c["aud"] = "https://id.example.com", "purchase-transfer" }, true},
		{"audience in a list", func(c jwt.MapClaims) {
			c["iss"], c["aud"] = "https://id.example.com", []string{"other", "purchase-transfer"}
		}, true},
		{"wrong issuer", func(c jwt.MapClaims) { c["iss"], c["aud"] = "https://evil.example.com", "purchase-transfer" }, false},
		{"missing issuer", func(c jwt.MapClaims) { c["aud"] = "purchase-transfer" }, false},
		{"wrong audience", func(c jwt.MapClaims) { c["iss"], c["aud"] = "https://id.example.com", "other" }, false},
		{"missing audience", func(c jwt.MapClaims) { c["iss"] = "https://id.example.com" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			token := sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(tc.mod))
			if tc.accept {
				expectAccepted(t, v, token, wantCred)
			} else {
				expectRefused(t, v, token)
			}
		})
	}
}

func TestJWTLeeway(t *testing.T) {
	t.Parallel()
	now := time.Now()
	defaultLeeway := auth.NewVerifier(auth.JWTConfig{HS256Secret: hsSecret})
	short := auth.NewVerifier(auth.JWTConfig{HS256Secret: hsSecret, Leeway: 2 * time.Second})
	tests := []struct {
		name          string
		mod           func(jwt.MapClaims)
		byDefault     bool // DefaultLeeway is 30 s
		withShortOnes bool // 2 s
	}{
		{"expired 10 s ago", func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() }, true, false},
		{"expired 2 min ago", func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() }, false, false},
		{"nbf in 10 s", func(c jwt.MapClaims) { c["nbf"] = now.Add(10 * time.Second).Unix() }, true, false},
		{"iat in 10 s", func(c jwt.MapClaims) { c["iat"] = now.Add(10 * time.Second).Unix() }, true, false},
		{"nbf in 2 min", func(c jwt.MapClaims) { c["nbf"] = now.Add(2 * time.Minute).Unix() }, false, false},
	}
	if auth.DefaultLeeway != 30*time.Second {
		t.Fatalf("DefaultLeeway = %v; the cases below assume 30 s", auth.DefaultLeeway)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			token := sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(tc.mod))
			if tc.byDefault {
				expectAccepted(t, defaultLeeway, token, wantCred)
			} else {
				expectRefused(t, defaultLeeway, token)
			}
			if tc.withShortOnes {
				expectAccepted(t, short, token, wantCred)
			} else {
				expectRefused(t, short, token)
			}
		})
	}
}

func TestJWTStringIDsAreDigitsOnly(t *testing.T) {
	t.Parallel()
	v := auth.NewVerifier(auth.JWTConfig{HS256Secret: hsSecret})
	expectRefused(t, v, sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(func(c jwt.MapClaims) { c["customerId"] = "+42" })))
}

func TestMintHS256RoundTrip(t *testing.T) {
	t.Parallel()
	token, err := auth.MintHS256(hsSecret, 7, 42, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	expectAccepted(t, auth.NewVerifier(auth.JWTConfig{HS256Secret: hsSecret}), token, wantCred)
	expectRefused(t, auth.NewVerifier(auth.JWTConfig{HS256Secret: []byte("different")}), token)
	expired, err := auth.MintHS256(hsSecret, 7, 42, -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expectRefused(t, auth.NewVerifier(auth.JWTConfig{HS256Secret: hsSecret}), expired)
	if parts := strings.Split(token, "."); len(parts) != 3 {
		t.Errorf("minted token has %d parts", len(parts))
	}
}
