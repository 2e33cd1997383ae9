package httpapi_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// A customer JWT with a kid nobody published makes the verifier refetch the
// key set; when the issuer hangs, the client still gets its 401 AUTH0002 at
// once, never a platform timeout (docs/contract.md §1.2).
func TestHangingJWKSAnswers401Quickly(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	// The key set is served once; then every fetch hangs for 30 s.
	var hits atomic.Int32
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			_, _ = w.Write(set)
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}))
	t.Cleanup(jwks.Close)
	verifier := auth.NewVerifier(auth.JWTConfig{JWKSURL: jwks.URL})
	t.Cleanup(verifier.Close)
	reader := &fakeStatusReader{sync: transfer.Synchronization{Status: transfer.StatusProcessing}}
	h := httpapi.NewStatusHandler(reader, verifier)

	mint := func(kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"customerId": 42, "publisherId": 7, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if rec := serve(h, http.MethodGet, "/purchases/synchronizations/s1", "", headers("Authorization", "Bearer "+mint("k1"))); rec.Code != http.StatusOK {
		t.Fatalf("a token of the published key: %d %s", rec.Code, rec.Body)
	}

	start := time.Now()
	rec := serve(h, http.MethodGet, "/purchases/synchronizations/s1", "", headers("Authorization", "Bearer "+mint("nobody-published-this")))
	took := time.Since(start)
	decodeError(t, rec, http.StatusUnauthorized, transfer.CodeUnauthenticated)
	t.Logf("unknown kid, key set hanging 30 s: 401 %s in %v", transfer.CodeUnauthenticated, took)
	if took > 5*time.Second {
		t.Errorf("answered after %v; a request waits for keys at most 800 ms", took)
	}
	if n := reader.callCount(); n != 1 {
		t.Errorf("the status reader was called %d times, want 1 (the valid token only)", n)
	}
}
