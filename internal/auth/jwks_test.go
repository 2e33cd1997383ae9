package auth_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/purchase-transfer/internal/auth"
)

// hang is how long a hanging key set server takes to answer: far longer
// than any bound the verifier keeps, so a test that waited for it would
// show. It answers sooner only when its client gives up.
const hang = 30 * time.Second

// quickly is what the tests assert of a request's bounded wait for keys
// (800 ms): generous, for a loaded machine, and still far below hang.
const quickly = 5 * time.Second

// scriptedJWKS serves the test key set for the first serve requests, then
// hangs every request (until hang, or until its client goes away). arrived
// receives each request that hangs.
type scriptedJWKS struct {
	*httptest.Server
	hits    atomic.Int32
	arrived chan struct{}
}

func newScriptedJWKS(t *testing.T, serve int32) *scriptedJWKS {
	t.Helper()
	s := &scriptedJWKS{arrived: make(chan struct{}, 16)}
	body := jwksJSON()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.hits.Add(1) <= serve {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
			return
		}
		select {
		case s.arrived <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-time.After(hang):
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func newVerifier(t *testing.T, cfg auth.JWTConfig) *auth.Verifier {
	t.Helper()
	v := auth.NewVerifier(cfg)
	t.Cleanup(v.Close)
	return v
}

// timedVerify verifies token and says how long it took.
func timedVerify(ctx context.Context, v *auth.Verifier, token string) (time.Duration, error) {
	start := time.Now()
	_, err := v.Verify(ctx, token)
	return time.Since(start), err
}

func TestJWKSHangingAtFirstFetchIsRefusedQuickly(t *testing.T) {
	t.Parallel()
	srv := newScriptedJWKS(t, 0)
	v := newVerifier(t, auth.JWTConfig{JWKSURL: srv.URL})
	took, err := timedVerify(context.Background(), v, sign(t, jwt.SigningMethodRS256, testKeys().rsa, "rsa-1", claims(nil)))
	if !errors.Is(err, auth.ErrInvalidJWT) {
		t.Fatalf("Verify = %v, want a refusal", err)
	}
	t.Logf("a key set that hangs at its first fetch: refused in %v", took)
	if took > quickly {
		t.Errorf("refused after %v; a request waits for keys at most 800 ms", took)
	}
}

func TestJWKSSlowFirstFetchServesLaterRequests(t *testing.T) {
	t.Parallel()
	// The key set answers in 1.2 s: longer than a request waits for it
	// (800 ms), within a fetch's bound (2 s). The first request is refused,
	// but its fetch goes on, and serves the requests after it.
	var hits atomic.Int32
	body := jwksJSON()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-r.Context().Done():
			return
		case <-time.After(1200 * time.Millisecond):
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	v := newVerifier(t, auth.JWTConfig{JWKSURL: srv.URL})
	token := sign(t, jwt.SigningMethodRS256, testKeys().rsa, "rsa-1", claims(nil))
	took, err := timedVerify(context.Background(), v, token)
	if err == nil {
		t.Fatalf("accepted after %v, before the key set could have arrived", took)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := v.Verify(context.Background(), token); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the slow key set never served a token: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := hits.Load(); n != 1 {
		t.Logf("key set fetched %d times (1 unless the machine is too slow for the 2 s fetch bound)", n)
	}
}

func TestJWKSUnknownKIDWithAHangingRefreshIsRefusedQuickly(t *testing.T) {
	t.Parallel()
	// The key set loads, then every later fetch hangs.
	srv := newScriptedJWKS(t, 1)
	v := newVerifier(t, auth.JWTConfig{JWKSURL: srv.URL})
	k := testKeys()
	known := sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(nil))
	expectAccepted(t, v, known, wantCred)

	// Anyone can send a token with a random kid, signed by nobody: it
	// triggers a refetch, which hangs.
	unknown := sign(t, jwt.SigningMethodRS256, k.otherRSA, "random-kid-1", claims(nil))
	took, err := timedVerify(context.Background(), v, unknown)
	if !errors.Is(err, auth.ErrInvalidJWT) {
		t.Fatalf("Verify = %v, want a refusal", err)
	}
	t.Logf("an unknown kid whose refetch hangs: refused in %v", took)
	if took > quickly {
		t.Errorf("refused after %v; a request waits for keys at most 800 ms", took)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("key set fetched %d times, want 2 (the load, one refetch)", n)
	}

	// The refetch budget is spent: more random kids are refused without a
	// fetch and without waiting for the rate limit (the library's default
	// would wait up to a minute).
	for i := range 5 {
		unknown := sign(t, jwt.SigningMethodES256, k.ec, "random-kid-"+strconv.Itoa(i+2), claims(nil))
		took, err := timedVerify(context.Background(), v, unknown)
		if !errors.Is(err, auth.ErrInvalidJWT) {
			t.Fatalf("Verify = %v, want a refusal", err)
		}
		if took > quickly {
			t.Errorf("unknown kid %d refused after %v: it waited for the rate limit", i, took)
		}
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("key set fetched %d times, want 2: unknown kids must be rate limited", n)
	}
	// Known keys still verify, from the keys already loaded.
	expectAccepted(t, v, known, wantCred)
}

func TestJWKSFetchEndsWithTheRequestContext(t *testing.T) {
	t.Parallel()
	k := testKeys()
	for name, serve := range map[string]int32{"first fetch": 0, "unknown kid refetch": 1} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newScriptedJWKS(t, serve)
			// Fetches and waits bounded by a minute, longer than the server
			// hangs: only the request's context can end this wait before hang.
			v := auth.NewVerifierWithBounds(auth.JWTConfig{JWKSURL: srv.URL}, time.Minute, time.Minute)
			t.Cleanup(v.Close)
			kid := "rsa-1"
			if serve > 0 {
				expectAccepted(t, v, sign(t, jwt.SigningMethodRS256, k.rsa, kid, claims(nil)), wantCred)
				kid = "rsa-unknown"
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				select {
				case <-srv.arrived:
					cancel() // the client went away while the fetch hangs
				case <-ctx.Done():
				}
			}()
			took, err := timedVerify(ctx, v, sign(t, jwt.SigningMethodRS256, k.rsa, kid, claims(nil)))
			if !errors.Is(err, auth.ErrInvalidJWT) {
				t.Errorf("Verify = %v, want a refusal", err)
			}
			t.Logf("refused %v after the request was canceled at the hanging fetch", took)
			if took > quickly {
				t.Errorf("refused after %v: the request's end did not end the wait", took)
			}
		})
	}
}

func TestJWKSRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	target := newJWKSServer(t, 0)
	redirector := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	t.Cleanup(redirector.Close)
	v := newVerifier(t, auth.JWTConfig{JWKSURL: redirector.URL})
	expectRefused(t, v, sign(t, jwt.SigningMethodRS256, testKeys().rsa, "rsa-1", claims(nil)))
	if n := target.hits.Load(); n != 0 {
		t.Errorf("the redirect's target was fetched %d times", n)
	}
}

// paddedJWKS is the test key set after leading spaces (valid JSON, and a
// decoder must read them all), exactly size bytes.
func paddedJWKS(t *testing.T, size int) []byte {
	t.Helper()
	body := jwksJSON()
	if len(body) > size {
		t.Fatalf("the key set is %d bytes already", len(body))
	}
	return append(bytes.Repeat([]byte(" "), size-len(body)), body...)
}

func TestJWKSBodyIsLimitedTo64KiB(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	tests := []struct {
		name    string
		size    int
		chunked bool // no Content-Length: the limit is met while reading
		accept  bool
	}{
		{"exactly the limit", limit, false, true},
		{"exactly the limit, chunked", limit, true, true},
		{"one byte over", limit + 1, false, false},
		{"one byte over, chunked", limit + 1, true, false},
		{"a megabyte, chunked", 1 << 20, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := paddedJWKS(t, tc.size)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if !tc.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
					_, _ = w.Write(body)
					return
				}
				for chunk := range slices.Chunk(body, 4096) {
					_, _ = w.Write(chunk)
					w.(http.Flusher).Flush()
				}
			}))
			t.Cleanup(srv.Close)
			v := newVerifier(t, auth.JWTConfig{JWKSURL: srv.URL})
			token := sign(t, jwt.SigningMethodRS256, testKeys().rsa, "rsa-1", claims(nil))
			if tc.accept {
				expectAccepted(t, v, token, wantCred)
			} else {
				expectRefused(t, v, token)
			}
		})
	}
}

func TestCheckJWKSURL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{
		"https://id.example.com/.well-known/jwks.json",
		"https://id.example.com:8443/keys",
		"http://127.0.0.1:8080/jwks",
		"http://localhost/jwks",
		"http://[::1]:9000/jwks",
	} {
		if err := auth.CheckJWKSURL(ok); err != nil {
			t.Errorf("CheckJWKSURL(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{
		"http://id.example.com/.well-known/jwks.json",
		"http://127.0.0.2/jwks",
		"http://localhost.example.com/jwks",
		"http://169.254.169.254/latest/meta-data",
		"ftp://id.example.com/jwks",
		"file:///etc/jwks.json",
		"//id.example.com/jwks",
		"/jwks",
		"id.example.com/jwks",
		"https://user:password@id.example.com/jwks",
		"https://%zz",
	} {
		err := auth.CheckJWKSURL(bad)
		if err == nil {
			t.Errorf("CheckJWKSURL(%q) accepted it", bad)
		} else if strings.Contains(err.Error(), "password") {
			t.Errorf("CheckJWKSURL(%q) = %v: the error shows the URL's password", bad, err)
		}
	}
}

func TestJWKSClientRefusesAPlainHTTPURL(t *testing.T) {
	t.Parallel()
	// Whatever built the verifier (the configuration refuses this URL too),
	// the client never fetches a key set over plain http from a
	// non-loopback host. 192.0.2.1 is TEST-NET-1: nothing answers there.
	v := newVerifier(t, auth.JWTConfig{JWKSURL: "http://192.0.2.1/jwks"})
	took, err := timedVerify(context.Background(), v, sign(t, jwt.SigningMethodRS256, testKeys().rsa, "rsa-1", claims(nil)))
	if !errors.Is(err, auth.ErrInvalidJWT) || !strings.Contains(err.Error(), "https") {
		t.Errorf("Verify = %v, want a refusal naming https", err)
	}
	if took > quickly {
		t.Errorf("refused after %v: it tried to connect", took)
	}
}
