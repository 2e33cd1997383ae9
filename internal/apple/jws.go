package apple

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Apple's marker extensions: without them any certificate ever issued under Apple Root CA - G3
// (a developer's, say) could sign a "transaction". Values from Apple's App Store Server Library.
var (
	oidLeafMarker         = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 11, 1}
	oidIntermediateMarker = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 2, 1}
)

// parser accepts ES256 only, so "none", HMAC (keyed with the public key) and other curves are
// refused before any key is looked at. Apple payloads carry no exp/iat/nbf: time is checked
// against signedDate on the certificate chain instead. Sharing one Parser is safe: with claims
// validation off, ParseWithClaims never writes to it.
var parser = jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithoutClaimsValidation())

// claims decodes a payload into *T for jwt.ParseWithClaims and notes signedDate on the way, so
// the key function can verify the chain at that time before the signature is checked.
type claims[T any] struct {
	v          *T
	signedDate int64
}

func (c *claims[T]) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, c.v); err != nil {
		return err
	}
	var d struct {
		SignedDate int64 `json:"signedDate"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	c.signedDate = d.SignedDate
	return nil
}

// No registered claims: Apple does not send them and validation is off.
func (*claims[T]) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (*claims[T]) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (*claims[T]) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (*claims[T]) GetIssuer() (string, error)                   { return "", nil }
func (*claims[T]) GetSubject() (string, error)                  { return "", nil }
func (*claims[T]) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// keyErr carries the key function's own error through jwt's wrapping, so that classify keeps
// its sentinel and message instead of jwt's generic "token is unverifiable".
type keyErr struct{ err error }

func (e keyErr) Error() string { return e.err.Error() }
func (e keyErr) Unwrap() error { return e.err }

// verifyJWS parses token, verifies its x5c chain at its signedDate and its signature, and only
// then returns the decoded payload. what names the token in errors; the token itself never
// appears in them.
func verifyJWS[T any](ctx context.Context, v *Verifier, what, token string) (T, error) {
	var zero T
	c := &claims[T]{v: new(T)}
	_, err := parser.ParseWithClaims(token, c, func(t *jwt.Token) (any, error) {
		// The payload is decoded but not yet trusted: signedDate is used only to pick the
		// time at which the chain must be valid, and the signature check follows.
		if c.signedDate <= 0 {
			return nil, keyErr{fmt.Errorf("%w: %s: signedDate missing", ErrMalformed, what)}
		}
		key, err := v.verifyChain(ctx, t.Header["x5c"], time.UnixMilli(c.signedDate))
		if err != nil {
			return nil, keyErr{fmt.Errorf("%w: %s: %w", ErrUnverified, what, err)}
		}
		return key, nil
	})
	if err != nil {
		return zero, classify(what, err)
	}
	return *c.v, nil
}

// classify maps jwt's errors onto ErrMalformed and ErrUnverified. jwt's messages name what
// failed (segment count, base64, JSON, alg, signature) and never quote the token.
func classify(what string, err error) error {
	var ke keyErr
	switch {
	case errors.As(err, &ke):
		return ke.err
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	default:
		return fmt.Errorf("%w: %s: %v", ErrUnverified, what, err)
	}
}

// verifyChain checks that x5c is [leaf, intermediate, root] with Apple's markers, that the
// leaf chains through that intermediate to a trusted root at time at, and returns the leaf's
// P-256 key. A chain verified before (the same three entries, byte for byte) is taken from the
// cache when at falls within the validity of all its certificates, and verified afresh
// otherwise; the revocation check runs every time, and the caller checks the JWS signature with
// the returned key every time.
func (v *Verifier) verifyChain(ctx context.Context, x5c any, at time.Time) (*ecdsa.PublicKey, error) {
	entries, err := parseX5CEntries(x5c)
	if err != nil {
		return nil, err
	}
	vc, ok := v.chains.get(entries)
	if !ok || !vc.validAt(at) {
		if vc, err = v.buildChain(entries, at); err != nil {
			return nil, err
		}
		v.chains.put(entries, vc)
	}
	if v.revoke != nil {
		if err := v.revoke(ctx, vc.chain); err != nil {
			return nil, fmt.Errorf("revocation check: %w", err)
		}
	}
	return vc.key, nil
}

// buildChain verifies x5c entries from scratch at time at: what verifyChain caches.
func (v *Verifier) buildChain(entries x5cEntries, at time.Time) (verifiedChain, error) {
	certs, err := parseCerts(entries)
	if err != nil {
		return verifiedChain{}, err
	}
	leaf, inter, root := certs[0], certs[1], certs[2]
	if !hasExtension(leaf, oidLeafMarker) {
		return verifiedChain{}, errors.New("leaf lacks Apple's marker extension")
	}
	if !hasExtension(inter, oidIntermediateMarker) {
		return verifiedChain{}, errors.New("intermediate lacks Apple's marker extension")
	}
	intermediates := x509.NewCertPool()
	intermediates.AddCert(inter)
	chains, err := leaf.Verify(x509.VerifyOptions{
		Intermediates: intermediates,
		Roots:         v.roots,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return verifiedChain{}, fmt.Errorf("certificate chain at signedDate %s: %w", at.UTC().Format(time.RFC3339), err)
	}
	// Apple always sends the root it chains to; insisting on that exact path means a header
	// edited to name another root or to skip the intermediate is refused, not repaired.
	var chain []*x509.Certificate
	for _, ch := range chains {
		if len(ch) == 3 && ch[1].Equal(inter) && ch[2].Equal(root) {
			chain = ch
			break
		}
	}
	if chain == nil {
		return verifiedChain{}, errors.New("x5c is not leaf, intermediate, trusted root")
	}
	key, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return verifiedChain{}, errors.New("leaf key is not ECDSA P-256")
	}
	return newVerifiedChain(key, chain), nil
}

// parseX5CEntries reads the x5c header: exactly three strings.
func parseX5CEntries(x5c any) (x5cEntries, error) {
	var entries x5cEntries
	if x5c == nil {
		return entries, errors.New("x5c header missing")
	}
	list, ok := x5c.([]any)
	if !ok {
		return entries, errors.New("x5c header is not an array")
	}
	if len(list) != len(entries) {
		return entries, fmt.Errorf("x5c has %d certificates, want 3", len(list))
	}
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return entries, fmt.Errorf("x5c[%d] is not a string", i)
		}
		entries[i] = s
	}
	return entries, nil
}

// parseCerts decodes x5c entries: standard-base64 DER certificates (RFC 7515 §4.1.6 uses
// standard, not URL, base64).
func parseCerts(entries x5cEntries) ([]*x509.Certificate, error) {
	certs := make([]*x509.Certificate, len(entries))
	for i, s := range entries {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("x5c[%d] is not base64", i)
		}
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("x5c[%d]: %w", i, err)
		}
	}
	return certs, nil
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}
