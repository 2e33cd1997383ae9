package auth_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/purchase-transfer/internal/auth"
)

func TestJWTMaxLifetime(t *testing.T) {
	t.Parallel()
	if auth.DefaultMaxLifetime != 24*time.Hour {
		t.Fatalf("DefaultMaxLifetime = %v; the cases below assume 24 h", auth.DefaultMaxLifetime)
	}
	byDefault := newVerifier(t, auth.JWTConfig{HS256Secret: hsSecret})
	hour := newVerifier(t, auth.JWTConfig{HS256Secret: hsSecret, MaxLifetime: time.Hour})
	now := time.Now()
	lifetime := func(iat time.Time, d time.Duration) func(jwt.MapClaims) {
		return func(c jwt.MapClaims) { c["iat"], c["exp"] = iat.Unix(), iat.Add(d).Unix() }
	}
	tests := []struct {
		name               string
		mod                func(jwt.MapClaims)
		byDefault, by1Hour bool
	}{
		{"1 h", lifetime(now, time.Hour), true, true},
		{"1 h and 1 s", lifetime(now, time.Hour+time.Second), true, false},
		{"exactly 24 h", lifetime(now, 24*time.Hour), true, false},
		{"24 h and 1 s", lifetime(now, 24*time.Hour+time.Second), false, false},
		{"a year", lifetime(now, 365*24*time.Hour), false, false},
		// Issued long ago, valid for a long time: its age does not matter,
		// its lifetime does.
		{"issued 23 h ago for 24 h", lifetime(now.Add(-23*time.Hour), 24*time.Hour), true, false},
		{"issued 30 days ago for 31 days", lifetime(now.Add(-30*24*time.Hour), 31*24*time.Hour), false, false},
		{"no iat, exp in 1 h", func(c jwt.MapClaims) { delete(c, "iat") }, false, false},
		{"iat as a string", func(c jwt.MapClaims) { c["iat"] = "yesterday" }, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			token := sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(tc.mod))
			for _, v := range []struct {
				name   string
				v      *auth.Verifier
				accept bool
			}{{"default 24 h", byDefault, tc.byDefault}, {"1 h", hour, tc.by1Hour}} {
				if v.accept {
					expectAccepted(t, v.v, token, wantCred)
				} else {
					expectRefused(t, v.v, token)
				}
			}
		})
	}
}

func TestJWTCritHeaderRefused(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, 0)
	v := newVerifier(t, auth.JWTConfig{HS256Secret: hsSecret, JWKSURL: srv.URL})
	k := testKeys()
	withCrit := func(method jwt.SigningMethod, key any, kid string, crit any) string {
		tok := jwt.NewWithClaims(method, claims(nil))
		if kid != "" {
			tok.Header["kid"] = kid
		}
		tok.Header["crit"] = crit
		tok.Header["exp"] = time.Now().Add(time.Hour).Unix()
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for name, token := range map[string]string{
		"HS256, crit [exp]":    withCrit(jwt.SigningMethodHS256, hsSecret, "", []string{"exp"}),
		"HS256, crit [b64]":    withCrit(jwt.SigningMethodHS256, hsSecret, "", []string{"b64"}),
		"HS256, crit []":       withCrit(jwt.SigningMethodHS256, hsSecret, "", []string{}),
		"HS256, crit null":     withCrit(jwt.SigningMethodHS256, hsSecret, "", nil),
		"RS256, crit [exp]":    withCrit(jwt.SigningMethodRS256, k.rsa, "rsa-1", []string{"exp"}),
		"ES256, crit a string": withCrit(jwt.SigningMethodES256, k.ec, "ec-1", "exp"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expectRefused(t, v, token)
		})
	}
	// The same tokens without the header are fine.
	expectAccepted(t, v, sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(nil)), wantCred)
	expectAccepted(t, v, sign(t, jwt.SigningMethodHS256, hsSecret, "", claims(nil)), wantCred)
}
