package auth

import (
	"net/http"
	"testing"
)

// The client of key set fetches: what the tests against a server cannot
// show on loopback (proxies from the environment skip loopback anyway).
func TestJWKSClient(t *testing.T) {
	c := newJWKSClient(jwksFetchTimeout)
	if c.Timeout != jwksFetchTimeout || jwksFetchTimeout > 2e9 {
		t.Errorf("timeout = %v, want jwksFetchTimeout (at most 2 s)", c.Timeout)
	}
	if c.CheckRedirect == nil {
		t.Error("redirects are followed")
	}
	tr, ok := c.Transport.(jwksTransport)
	if !ok {
		t.Fatalf("transport is %T", c.Transport)
	}
	base, ok := tr.base.(*http.Transport)
	if !ok {
		t.Fatalf("base transport is %T", tr.base)
	}
	if base.Proxy != nil {
		t.Error("the transport takes its proxy from the environment")
	}
	if base == http.DefaultTransport {
		t.Error("the transport is shared with http.DefaultTransport")
	}
}
