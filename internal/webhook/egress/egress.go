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
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrRefused marks a URL or an address the policy does not allow.
var ErrRefused = errors.New("refused by the egress policy")

// Policy says which targets are allowed. The zero value is the policy of
// AWS: https only, port 443 only, public unicast addresses only.
type Policy struct {
	// AllowLocal additionally allows plain http, any port and loopback
	// addresses, for the local runner and tests whose receivers listen on
	// 127.0.0.1.
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
	if port := u.Port(); port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%w: the port %q is not a number", ErrRefused, port)
		}
		if err := p.CheckPort(uint16(n)); err != nil {
			return nil, err
		}
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

// globalUnicast6 is the only IPv6 space IANA allocates for global unicast
// (RFC 4291 §2.4, the IANA IPv6 address space registry). Everything outside
// it is refused, IPv4-mapped addresses aside (they are checked as IPv4): that
// covers the unspecified and loopback addresses, IPv4-compatible (::/96,
// e.g. ::127.0.0.1) and IPv4-translated (::ffff:0:0/96, e.g. ::ffff:0:7f00:1)
// addresses, NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48, which
// would reach whatever IPv4 address they embed through a translator),
// discard-only 100::/64, unique local fc00::/7 (which includes EC2's
// fd00:ec2::254), link-local, site-local, multicast and SRv6 5f00::/16.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// blocked are ranges inside the public unicast spaces that are not
// reachable public destinations, or that embed another address and would be
// relayed to it, and that netip's predicates do not name (IANA's IPv4 and
// IPv6 special-purpose address registries, RFC 6890).
var blocked = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network"`},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	// The 6to4 relay anycast (deprecated, RFC 7526) relays to the IPv6
	// address a packet carries.
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and the broadcast address
	// Teredo embeds an IPv4 server and client address.
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	// The rest of 2001::/23, IETF protocol assignments: benchmarking
	// 2001:2::/48, ORCHID, anycast services. No webhook receiver lives there.
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignment"},
	// 6to4 (deprecated, RFC 7526): 2002:AABB:CCDD::/48 is relayed to the
	// IPv4 address AA.BB.CC.DD, e.g. 2002:a9fe:a9fe:: to 169.254.169.254.
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"}, // RFC 9637
}

// CheckAddr refuses every address that is not public unicast (loopback is
// allowed by the local policy). An IPv4-mapped IPv6 address is judged as the
// IPv4 address it maps; every other form that embeds an IPv4 address
// (IPv4-compatible, IPv4-translated, NAT64, 6to4, Teredo) is refused, never
// decoded, so no embedding can smuggle a private address through.
func (p Policy) CheckAddr(addr netip.Addr) error {
	addr = addr.Unmap()
	refuse := func(kind string) error { return fmt.Errorf("%w: %s is a %s address", ErrRefused, addr, kind) }
	switch {
	case !addr.IsValid():
		return fmt.Errorf("%w: no address", ErrRefused)
	case addr.Zone() != "":
		return refuse("scoped")
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
	case addr.Is6() && !globalUnicast6.Contains(addr):
		return refuse("special-purpose IPv6")
	}
	for _, b := range blocked {
		if b.prefix.Contains(addr) {
			return refuse(b.kind)
		}
	}
	return nil
}

// HTTPSPort is the only port the AWS policy connects to. Receivers of
// webhooks are public HTTPS services, which listen on 443; allowing other
// ports would let a publisher aim the service at arbitrary services on a
// public host (mail, databases, admin consoles) that never expected its
// requests. The local policy allows every port, for receivers on 127.0.0.1.
const HTTPSPort = 443

// CheckPort refuses a port the policy does not allow.
func (p Policy) CheckPort(port uint16) error {
	if p.AllowLocal || port == HTTPSPort {
		return nil
	}
	return fmt.Errorf("%w: port %d (only %d is allowed)", ErrRefused, port, HTTPSPort)
}

// control runs on every connection attempt with the resolved address.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrRefused, address)
	}
	if err := p.CheckPort(ap.Port()); err != nil {
		return err
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
