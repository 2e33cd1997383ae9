// Package egress decides which URLs the service may call on a publisher's
// behalf, and gives the HTTP client that enforces it. Webhook URLs are chosen
// by publishers, so without this guard a publisher could make the service
// call its own cloud's metadata endpoint or anything inside its network
// (server-side request forgery).
//
// The decisive check runs at dial time, on the address actually being
// connected to, so a host name that resolves to a public address when it is
// subscribed and to a private one later (DNS rebinding) is still refused.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrRefused marks a URL or an address the policy does not allow.
var ErrRefused = errors.New("refused by the egress policy")

// Policy says which targets are allowed. The zero value is the policy of
// AWS: https only, public unicast addresses only.
type Policy struct {
	// AllowLocal additionally allows plain http and loopback addresses, for
	// the local runner and tests whose receivers listen on 127.0.0.1.
	AllowLocal bool
}

// Local is the policy of `make run` and the tests.
var Local = Policy{AllowLocal: true}

// CheckURL validates a webhook URL's form: scheme, host, no credentials, and
// no literal address the policy refuses. Host names are checked when they
// are resolved (Resolve, and at every dial).
func (p Policy) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: not a URL", ErrRefused)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowLocal:
	default:
		return nil, fmt.Errorf("%w: the scheme must be https", ErrRefused)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: the URL has no host", ErrRefused)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the URL are not allowed", ErrRefused)
	}
	if u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: the URL must be an absolute http(s) URL without a fragment", ErrRefused)
	}
	if len(raw) > 2048 {
		return nil, fmt.Errorf("%w: the URL is longer than 2048 characters", ErrRefused)
	}
	if addr, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		if err := p.CheckAddr(addr); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Resolve checks a URL and every address its host resolves to now. It is a
// courtesy at subscription time (a mistyped internal host is refused at
// once); deliveries are guarded at dial time regardless.
func (p Policy) Resolve(ctx context.Context, raw string) error {
	u, err := p.CheckURL(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return err
		}
	}
	return nil
}

// blocked are ranges that are not reachable public unicast destinations but
// that netip's predicates do not name.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (shared address space)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: would reach IPv4 addresses behind it
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
}

// CheckAddr refuses every address that is not public unicast (loopback is
// allowed by the local policy).
func (p Policy) CheckAddr(addr netip.Addr) error {
	addr = addr.Unmap()
	refuse := func(kind string) error { return fmt.Errorf("%w: %s is a %s address", ErrRefused, addr, kind) }
	switch {
	case !addr.IsValid():
		return fmt.Errorf("%w: no address", ErrRefused)
	case addr.IsLoopback():
		if p.AllowLocal {
			return nil
		}
		return refuse("loopback")
	case addr.IsUnspecified():
		return refuse("unspecified")
	case addr.IsPrivate():
		return refuse("private")
	case addr.IsLinkLocalUnicast():
		return refuse("link-local")
	case addr.IsMulticast():
		return refuse("multicast")
	case !addr.IsGlobalUnicast():
		return refuse("non-unicast")
	}
	for _, b := range blocked {
		if b.Contains(addr) {
			return refuse("reserved")
		}
	}
	return nil
}

// control runs on every connection attempt with the resolved address.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrRefused, address)
	}
	return p.CheckAddr(ap.Addr())
}

// Client is an HTTP client for calls to publisher-chosen URLs: every
// connection is checked by the policy, no proxy from the environment is
// used, redirects are not followed (a redirect could point anywhere, and a
// receiver should answer at the URL it registered), and the whole exchange
// is bounded by timeout.
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: min(timeout, 5*time.Second), Control: p.control}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    min(timeout, 5*time.Second),
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           20,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        60 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
