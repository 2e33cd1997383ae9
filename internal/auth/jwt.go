package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// DefaultLeeway absorbs clock skew between the token issuer and us.
const DefaultLeeway = 30 * time.Second

// JWTConfig says which customer JWTs are accepted. Each algorithm is allowed
// only when its key material is configured; "none" and anything else never are.
type JWTConfig struct {
	// HS256Secret enables HS256.
	HS256Secret []byte
	// JWKSURL enables RS256 and ES256 with keys chosen by "kid".
	JWKSURL string
	// Issuer and Audience are checked when set.
	Issuer   string
	Audience string
	Leeway   time.Duration
}

// Verifier checks customer JWTs.
type Verifier struct {
	parser *jwt.Parser
	secret []byte
	jwks   *lazyJWKS
}

// NewVerifier builds a verifier. It does no I/O: the JWKS is fetched when the
// first RS256/ES256 token arrives, so a cold start never waits on it.
func NewVerifier(cfg JWTConfig) *Verifier {
	var methods []string
	v := &Verifier{}
	if len(cfg.HS256Secret) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
		v.secret = cfg.HS256Secret
	}
	if cfg.JWKSURL != "" {
		methods = append(methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg())
		v.jwks = &lazyJWKS{url: cfg.JWKSURL}
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

// ErrInvalidJWT covers every reason a customer JWT is refused.
var ErrInvalidJWT = errors.New("invalid customer token")

// Verify checks a JWT and returns the customer credential it carries.
func (v *Verifier) Verify(ctx context.Context, token string) (transfer.Credential, error) {
	var claims customerClaims
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		switch t.Method.Alg() {
		case jwt.SigningMethodHS256.Alg():
			return v.secret, nil
		default: // only RS256/ES256 pass WithValidMethods, and only with a JWKS
			kf, err := v.jwks.get(ctx)
			if err != nil {
				return nil, err
			}
			return kf.Keyfunc(t)
		}
	})
	if err != nil {
		return transfer.Credential{}, fmt.Errorf("%w: %w", ErrInvalidJWT, err)
	}
	if claims.CustomerID <= 0 || claims.PublisherID <= 0 {
		return transfer.Credential{}, fmt.Errorf("%w: customerId and publisherId claims are required", ErrInvalidJWT)
	}
	return transfer.Credential{Publisher: transfer.PublisherID(claims.PublisherID), Customer: transfer.CustomerID(claims.CustomerID)}, nil
}

type customerClaims struct {
	CustomerID  numericID `json:"customerId"`
	PublisherID numericID `json:"publisherId"`
	jwt.RegisteredClaims
}

// numericID accepts an integer or a string of digits, as issuers differ.
type numericID int64

func (n *numericID) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer id: %q", s)
	}
	*n = numericID(id)
	return nil
}

// lazyJWKS fetches the key set on first use and retries on the next token if
// that first fetch failed.
type lazyJWKS struct {
	url string
	mu  sync.Mutex
	kf  keyfunc.Keyfunc
}

func (l *lazyJWKS) get(ctx context.Context) (keyfunc.Keyfunc, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kf != nil {
		return l.kf, nil
	}
	// The key set outlives this request: it refreshes in the background for
	// the life of the container.
	kf, err := keyfunc.NewDefaultCtx(context.WithoutCancel(ctx), []string{l.url})
	if err != nil {
		return nil, fmt.Errorf("load JWKS: %w", err)
	}
	l.kf = kf
	return kf, nil
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
