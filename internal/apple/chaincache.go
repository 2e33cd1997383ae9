package apple

import (
	"container/list"
	"crypto/ecdsa"
	"crypto/x509"
	"sync"
	"time"
)

// chainCacheSize bounds the chains a Verifier remembers. Apple signs with a handful of leaf
// certificates at a time (one per environment, renewed every few months), so 64 keeps every
// chain in use while an attacker's chains, which never verify, are never stored.
const chainCacheSize = 64

// x5cEntries are the three base64 entries of an x5c header, exactly as sent: the cache's key,
// so that a chain differing in a single byte is another chain.
type x5cEntries [3]string

// verifiedChain is what verifying one x5c chain established, apart from time: the leaf's key,
// the chain as verified (for the revocation check, which is run on every use), and the window
// in which every certificate of it is valid. Marker extensions, path and key type do not depend
// on time, so within that window a new verification would succeed again; outside it, the chain
// is verified afresh at that time, which refuses it as crypto/x509 would.
type verifiedChain struct {
	key                 *ecdsa.PublicKey
	chain               []*x509.Certificate
	notBefore, notAfter time.Time
}

func newVerifiedChain(key *ecdsa.PublicKey, chain []*x509.Certificate) verifiedChain {
	vc := verifiedChain{key: key, chain: chain, notBefore: chain[0].NotBefore, notAfter: chain[0].NotAfter}
	for _, c := range chain[1:] {
		if c.NotBefore.After(vc.notBefore) {
			vc.notBefore = c.NotBefore
		}
		if c.NotAfter.Before(vc.notAfter) {
			vc.notAfter = c.NotAfter
		}
	}
	return vc
}

// validAt mirrors crypto/x509's test of each certificate: valid from NotBefore to NotAfter,
// both included.
func (vc verifiedChain) validAt(t time.Time) bool {
	return !t.Before(vc.notBefore) && !t.After(vc.notAfter)
}

// chainCache is a least-recently-used map from x5c entries to what verifying them established.
// Only chains that verified are put in it.
type chainCache struct {
	mu    sync.Mutex
	order *list.List // of *cachedChain, the most recently used first
	byKey map[x5cEntries]*list.Element
}

type cachedChain struct {
	key   x5cEntries
	chain verifiedChain
}

func newChainCache() *chainCache {
	return &chainCache{order: list.New(), byKey: make(map[x5cEntries]*list.Element, chainCacheSize)}
}

func (c *chainCache) get(k x5cEntries) (verifiedChain, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok {
		return verifiedChain{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cachedChain).chain, true
}

func (c *chainCache) put(k x5cEntries, vc verifiedChain) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		e.Value.(*cachedChain).chain = vc
		c.order.MoveToFront(e)
		return
	}
	c.byKey[k] = c.order.PushFront(&cachedChain{key: k, chain: vc})
	if c.order.Len() > chainCacheSize {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.byKey, oldest.Value.(*cachedChain).key)
	}
}

func (c *chainCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
