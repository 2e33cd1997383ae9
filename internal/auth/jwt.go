package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// DefaultLeeway absorbs clock skew between the token issuer and us.
const DefaultLeeway = 30 * time.Second

// DefaultMaxLifetime is the longest a customer JWT may be valid for, exp − iat.
const DefaultMaxLifetime = 24 * time.Hour

// MinHS256KeyBytes is the shortest HS256 key accepted: 256 bits, the size of
// the hash (RFC 7518 §3.2).
const MinHS256KeyBytes = 32

// DecodeHS256Key checks a secret's value as an HS256 key (used as it is):
// the rule every key fetched, rotated ones included, must pass. Its error
// does not quote the value.
func DecodeHS256Key(value []byte) ([]byte, error) {
	if len(value) < MinHS256KeyBytes {
		return nil, fmt.Errorf("an HS256 key must be at least %d bytes, got %d", MinHS256KeyBytes, len(value))
	}
	return value, nil
}

// HS256Keys are HS256 keys that can rotate (package secrets keeps them from
// Secrets Manager): the current key first, then the previous one, both
// valid during a rotation's overlap.
type HS256Keys interface {
	// Current returns the keys; it fails only while none could be loaded.
	Current(ctx context.Context) ([][]byte, error)
	// Refresh is told that no key verified a token: it may fetch the keys
	// again (rate-limited), and says whether they changed.
	Refresh(ctx context.Context) ([][]byte, bool)
}

// ErrKeysUnavailable means no HS256 key could be loaded: an internal
// failure, not the token's.
var ErrKeysUnavailable = errors.New("the HS256 keys are unavailable")

// JWTConfig says which customer JWTs are accepted. Each algorithm is allowed
// only when its key material is configured; "none" and anything else never are.
type JWTConfig struct {
	// HS256Keys enables HS256 with keys that rotate (the functions' keys,
	// from Secrets Manager).
	HS256Keys HS256Keys
	// HS256Secret enables HS256 with one fixed key (tests, tools), when
	// HS256Keys is nil.
	HS256Secret []byte
	// JWKSURL enables RS256 and ES256 with keys chosen by "kid".
	JWKSURL string
	// Issuer and Audience are checked when set.
	Issuer   string
	Audience string
	Leeway   time.Duration // DefaultLeeway when zero
	// MaxLifetime is the longest exp − iat accepted (DefaultMaxLifetime when
	// zero). Since a token's lifetime is known only from its iat, iat is
	// required.
	MaxLifetime time.Duration
}

// Verifier checks customer JWTs.
type Verifier struct {
	parser      *jwt.Parser
	maxLifetime time.Duration
	hs256       HS256Keys
	jwks        *lazyJWKS
	// enabled is false when no key material is configured: then no JWT is
	// valid (golang-jwt would read an empty allow-list as "any algorithm").
	enabled bool
}

// NewVerifier builds a verifier. It does no I/O: the JWKS is fetched when the
// first RS256/ES256 token arrives, so a cold start never waits on it.
func NewVerifier(cfg JWTConfig) *Verifier {
	var methods []string
	v := &Verifier{}
	switch {
	case cfg.HS256Keys != nil:
		v.hs256 = cfg.HS256Keys
	case len(cfg.HS256Secret) > 0:
		v.hs256 = fixedKey{cfg.HS256Secret}
	}
	if v.hs256 != nil {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.JWKSURL != "" {
		methods = append(methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg())
		v.jwks = newLazyJWKS(cfg.JWKSURL, jwksFetchTimeout, jwksRequestWait)
	}
	v.enabled = len(methods) > 0
	v.maxLifetime = cfg.MaxLifetime
	if v.maxLifetime == 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v
}

// Close ends the background refresh of the key set, if one was loaded. A
// Lambda never calls it: the key set lives as long as the container.
func (v *Verifier) Close() {
	if v.jwks != nil {
		v.jwks.close()
	}
}

// ErrInvalidJWT covers every reason a customer JWT is refused.
var ErrInvalidJWT = errors.New("invalid customer token")

// Verify checks a JWT and returns the customer credential it carries.
func (v *Verifier) Verify(ctx context.Context, token string) (transfer.Credential, error) {
	if !v.enabled {
		return transfer.Credential{}, fmt.Errorf("%w: customer JWTs are not enabled", ErrInvalidJWT)
	}
	var claims customerClaims
	hs256 := false
	keyFunc := func(t *jwt.Token) (any, error) {
		// A critical extension must be understood or the token refused (RFC
		// 7515 §4.1.11); this service understands none.
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New(`the "crit" header names extensions this service does not understand`)
		}
		// WithValidMethods has already refused any algorithm without keys.
		if t.Method.Alg() == jwt.SigningMethodHS256.Alg() {
			hs256 = true
			keys, err := v.hs256.Current(ctx)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
			}
			return hmacKeySet(keys), nil
		}
		if kid, _ := t.Header["kid"].(string); kid == "" {
			return nil, errors.New("RS256/ES256 tokens must name their key (kid)")
		}
		return v.jwks.key(ctx, t)
	}
	_, err := v.parser.ParseWithClaims(token, &claims, keyFunc)
	if hs256 && errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		// Signed with a key newer than ours (a rotation not seen yet)?
		// Refresh fetches at most every so often, whatever tokens come.
		if _, changed := v.hs256.Refresh(ctx); changed {
			claims = customerClaims{}
			_, err = v.parser.ParseWithClaims(token, &claims, keyFunc)
		}
	}
	if errors.Is(err, ErrKeysUnavailable) {
		return transfer.Credential{}, err
	}
	if err != nil {
		return transfer.Credential{}, fmt.Errorf("%w: %w", ErrInvalidJWT, err)
	}
	// The parser has checked exp (required), and iat and nbf when present.
	if claims.IssuedAt == nil {
		return transfer.Credential{}, fmt.Errorf("%w: iat is required (a token's lifetime is exp - iat)", ErrInvalidJWT)
	}
	if lifetime := claims.ExpiresAt.Sub(claims.IssuedAt.Time); lifetime > v.maxLifetime {
		return transfer.Credential{}, fmt.Errorf("%w: valid for %v (exp - iat), longer than the %v accepted", ErrInvalidJWT, lifetime, v.maxLifetime)
	}
	if claims.CustomerID <= 0 || claims.PublisherID <= 0 {
		return transfer.Credential{}, fmt.Errorf("%w: customerId and publisherId claims are required", ErrInvalidJWT)
	}
	return transfer.Credential{Publisher: transfer.PublisherID(claims.PublisherID), Customer: transfer.CustomerID(claims.CustomerID)}, nil
}

// hmacKeySet is the keys a token's HMAC may verify with, tried in order.
func hmacKeySet(keys [][]byte) jwt.VerificationKeySet {
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k
	}
	return set
}

// fixedKey is a single HS256 key that never rotates.
type fixedKey struct{ key []byte }

func (f fixedKey) Current(context.Context) ([][]byte, error) { return [][]byte{f.key}, nil }
func (f fixedKey) Refresh(context.Context) ([][]byte, bool)  { return [][]byte{f.key}, false }

type customerClaims struct {
	CustomerID  numericID `json:"customerId"`
	PublisherID numericID `json:"publisherId"`
	jwt.RegisteredClaims
}

// numericID accepts an integer or a string of digits, as issuers differ.
type numericID int64

func (n *numericID) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return fmt.Errorf("not a string of digits: %q", s)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not a 64-bit id: %q", s)
	}
	*n = numericID(id)
	return nil
}

// MintHS256 issues a customer JWT. It is a development aid for local stacks
// and tests, not something a production caller of this service needs.
func MintHS256(secret []byte, publisher transfer.PublisherID, customer transfer.CustomerID, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := customerClaims{
		CustomerID:  numericID(customer),
		PublisherID: numericID(publisher),
		RegisteredClaims: jwt.RegisteredClaims{
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}
