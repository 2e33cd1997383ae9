package auth

import "time"

// NewVerifierWithBounds is NewVerifier with other bounds on key set fetches
// and on a request's wait for keys, so that a test can tell a wait that the
// request's context ended from one that a bound ended.
func NewVerifierWithBounds(cfg JWTConfig, fetch, wait time.Duration) *Verifier {
	v := NewVerifier(cfg)
	if v.jwks != nil {
		v.jwks = newLazyJWKS(cfg.JWKSURL, fetch, wait)
	}
	return v
}
