package apple

import "crypto/x509"

// ForgetRoots makes v trust no root from now on, so that only a chain it verified before, taken
// from its cache, can still verify: it tells a verification served from the cache from one that
// was not.
func ForgetRoots(v *Verifier) { v.roots = x509.NewCertPool() }

// CachedChains is how many chains v remembers.
func CachedChains(v *Verifier) int { return v.chains.len() }

// ChainCacheSize is the most chains a Verifier remembers.
const ChainCacheSize = chainCacheSize
