package localroot

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

type signConfig struct {
	alg   string
	x5c   []string
	noX5C bool
}

// SignOption changes how one JWS is signed, to build forgeries.
type SignOption func(*signConfig)

// WithAlg signs with another alg: "ES384" (a fresh P-384 key), "HS256" (keyed with the leaf's
// DER public key, the classic alg-confusion attack) or "none" (empty signature).
func WithAlg(alg string) SignOption { return func(c *signConfig) { c.alg = alg } }

// WithX5C puts x5c in the header instead of the Authority's own chain (e.g. only the leaf, or a
// leaf taken from another Authority) while still signing with this Authority's leaf key.
func WithX5C(x5c ...string) SignOption {
	return func(c *signConfig) { c.x5c = x5c }
}

// WithoutX5C omits the x5c header.
func WithoutX5C() SignOption { return func(c *signConfig) { c.noX5C = true } }

// Sign marshals claims to JSON and returns a compact JWS with header
// {"alg":"ES256","x5c":[leaf, intermediate, root]}, signed by the leaf key, as Apple signs.
func (a *Authority) Sign(claims any, opts ...SignOption) (string, error) {
	c := signConfig{alg: "ES256", x5c: a.X5C()}
	for _, o := range opts {
		o(&c)
	}
	header := map[string]any{"alg": c.alg}
	if !c.noX5C {
		header["x5c"] = c.x5c
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("localroot: marshal claims: %w", err)
	}
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sig, err := a.signature(c.alg, signing)
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func (a *Authority) signature(alg, signing string) ([]byte, error) {
	switch alg {
	case "ES256":
		return jwt.SigningMethodES256.Sign(signing, a.leafKey)
	case "ES384":
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return jwt.SigningMethodES384.Sign(signing, k)
	case "HS256":
		return jwt.SigningMethodHS256.Sign(signing, a.leaf.RawSubjectPublicKeyInfo)
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("localroot: alg %q not supported", alg)
	}
}

// ReplaceInPayload returns jws with old replaced by new in its decoded payload, the header and
// signature untouched: a tampered token whose payload is still valid JSON, so a verifier must
// refuse it for its signature, not its syntax.
func ReplaceInPayload(jws, old, new string) (string, error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return "", errors.New("localroot: not a compact JWS")
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(p), old) {
		return "", fmt.Errorf("localroot: payload does not contain %q", old)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(p), old, new, 1)))
	return strings.Join(parts, "."), nil
}
