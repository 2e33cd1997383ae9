package appstoreapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/purchase-transfer/dev/appstoresim"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
)

const (
	testIssuer = "57246542-96fe-1a63-e053-0824d011072a"
	testKeyID  = "2X9R4HXF34"
	testBundle = "com.acme.video"
)

// newKey is a fresh key as App Store Connect hands it out, and its .p8.
func newKey(t testing.TB) (appstoreapi.Key, []byte) {
	t.Helper()
	priv, p8, err := appstoresim.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return appstoreapi.Key{IssuerID: testIssuer, KeyID: testKeyID, BundleID: testBundle, Private: priv}, p8
}

// The bearer token is what Apple asks for: ES256, kid in the header, iss, iat, exp five minutes
// later, aud appstoreconnect-v1 as a string, bid; its signature verifies with the public key
// and with no other.
func TestToken(t *testing.T) {
	k, _ := newKey(t)
	now := time.Unix(1_800_000_000, 0)
	tok, err := k.Token(now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	var header map[string]any
	decodeSegment(t, parts[0], &header)
	if header["alg"] != "ES256" || header["kid"] != testKeyID || header["typ"] != "JWT" {
		t.Errorf("header = %v", header)
	}
	var claims map[string]any
	decodeSegment(t, parts[1], &claims)
	want := map[string]any{"iss": testIssuer, "iat": float64(now.Unix()), "exp": float64(now.Add(5 * time.Minute).Unix()),
		"aud": "appstoreconnect-v1", "bid": testBundle}
	if len(claims) != len(want) {
		t.Errorf("claims = %v, want exactly %v", claims, want)
	}
	for name, v := range want {
		if claims[name] != v {
			t.Errorf("claim %s = %v (%T), want %v", name, claims[name], claims[name], v)
		}
	}
	if life := claims["exp"].(float64) - claims["iat"].(float64); life <= 0 || life > 20*60 {
		t.Errorf("lifetime %vs, want within Apple's 20 minutes", life)
	}

	parse := func(pub *ecdsa.PublicKey) error {
		_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil },
			jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("appstoreconnect-v1"),
			jwt.WithIssuer(testIssuer), jwt.WithTimeFunc(func() time.Time { return now.Add(time.Minute) }))
		return err
	}
	if err := parse(&k.Private.PublicKey); err != nil {
		t.Errorf("the public key does not verify the token: %v", err)
	}
	other, _ := newKey(t)
	if err := parse(&other.Private.PublicKey); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("another key's verification = %v, want a bad signature", err)
	}
	// Expired once its lifetime is over.
	_, err = jwt.Parse(tok, func(*jwt.Token) (any, error) { return &k.Private.PublicKey, nil },
		jwt.WithTimeFunc(func() time.Time { return now.Add(6 * time.Minute) }))
	if !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("six minutes later = %v, want expired", err)
	}
	// Each token is fresh: another time, another token.
	if again, _ := k.Token(now.Add(time.Second)); again == tok {
		t.Error("a token a second later is the same token")
	}
}

func TestTokenNeedsEveryPart(t *testing.T) {
	k, _ := newKey(t)
	for name, edit := range map[string]func(*appstoreapi.Key){
		"issuer": func(k *appstoreapi.Key) { k.IssuerID = "" },
		"key id": func(k *appstoreapi.Key) { k.KeyID = "" },
		"bundle": func(k *appstoreapi.Key) { k.BundleID = "" },
		"key":    func(k *appstoreapi.Key) { k.Private = nil },
	} {
		bad := k
		edit(&bad)
		if _, err := bad.Token(time.Now()); err == nil {
			t.Errorf("a key without %s signed a token", name)
		}
	}
}

func TestParsePrivateKey(t *testing.T) {
	k, p8 := newKey(t)
	got, err := appstoreapi.ParsePrivateKey(p8)
	if err != nil || !got.Equal(k.Private) {
		t.Fatalf("ParsePrivateKey = %v, %v", got, err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKCS8PrivateKey(p384)
	sec1, _ := x509.MarshalECPrivateKey(k.Private)
	for name, b := range map[string][]byte{
		"empty":       nil,
		"not PEM":     []byte("hello"),
		"a P-384 key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der384}),
		"SEC 1":       pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		"bad DER":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
	} {
		if _, err := appstoreapi.ParsePrivateKey(b); !errors.Is(err, appstoreapi.ErrBadPrivateKey) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func base64Decoder(s string) io.Reader {
	return base64.NewDecoder(base64.RawURLEncoding, strings.NewReader(s))
}
