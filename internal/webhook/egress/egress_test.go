package egress_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	refused := []struct{ addr, why string }{
		{"127.0.0.1", "loopback"},
		{"127.9.9.9", "loopback"},
		{"::1", "loopback"},
		{"10.0.0.1", "private"},
		{"172.16.5.4", "private"},
		{"192.168.1.1", "private"},
		{"fd00::1", "unique local"},
		{"fd00:ec2::254", "EC2's IPv6 metadata endpoint"},
		{"169.254.169.254", "link-local: the metadata endpoint"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local, scoped"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"198.18.0.1", "benchmarking"},
		{"192.0.0.8", "IETF protocol assignment"},
		{"192.0.2.1", "documentation"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "broadcast"},
		{"0.1.2.3", "this network"},
		{"::ffff:127.0.0.1", "IPv4-mapped loopback"},
		{"::ffff:10.0.0.1", "IPv4-mapped private"},
		{"::ffff:169.254.169.254", "IPv4-mapped metadata"},
		{"::ffff:192.88.99.1", "IPv4-mapped 6to4 relay"},
		{"::127.0.0.1", "IPv4-compatible loopback"},
		{"::169.254.169.254", "IPv4-compatible metadata"},
		{"::a00:1", "IPv4-compatible private"},
		{"::1.1.1.1", "IPv4-compatible, even of a public address"},
		{"::ffff:0:7f00:1", "IPv4-translated loopback"},
		{"::ffff:0:a9fe:a9fe", "IPv4-translated metadata"},
		{"::ffff:0:101:101", "IPv4-translated, even of a public address"},
		{"64:ff9b::a00:1", "NAT64 of 10.0.0.1"},
		{"64:ff9b::a9fe:a9fe", "NAT64 of the metadata endpoint"},
		{"64:ff9b::7f00:1", "NAT64 of loopback"},
		{"64:ff9b::101:101", "NAT64, even of a public address"},
		{"64:ff9b:1::a00:1", "local-use NAT64 of 10.0.0.1"},
		{"64:ff9b:1:ffff::1", "local-use NAT64"},
		{"2002:a9fe:a9fe::1", "6to4 of the metadata endpoint"},
		{"2002:7f00:1::", "6to4 of loopback"},
		{"2002:101:101::1", "6to4, even of a public address"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "Teredo, last address"},
		{"192.88.99.1", "6to4 relay anycast"},
		{"192.88.99.255", "6to4 relay anycast, last address"},
		{"2001:2::1", "benchmarking"},
		{"2001:1ff:ffff::1", "IETF protocol assignment, last /32 of 2001::/23"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"100::1", "discard-only"},
		{"fec0::1", "site-local"},
		{"5f00::1", "SRv6"},
		{"4000::1", "outside global unicast 2000::/3"},
		{"1000::1", "outside global unicast 2000::/3"},
		{"e000::1", "outside global unicast 2000::/3"},
	}
	allowed := []struct{ addr, why string }{
		{"1.1.1.1", "public IPv4"},
		{"8.8.8.8", "public IPv4"},
		{"52.94.236.248", "AWS"},
		{"192.88.98.1", "just below 192.88.99.0/24"},
		{"192.88.100.1", "just above 192.88.99.0/24"},
		{"::ffff:1.1.1.1", "IPv4-mapped public"},
		{"2606:4700:4700::1111", "public IPv6"},
		{"2001:4860:4860::8888", "public IPv6 in 2001::/16, outside 2001::/23"},
		{"2001:200::1", "just above 2001::/23"},
		{"2003::1", "just above 6to4"},
	}
	for _, c := range refused {
		if err := (egress.Policy{}).CheckAddr(netip.MustParseAddr(c.addr)); !errors.Is(err, egress.ErrRefused) {
			t.Errorf("AWS policy allows %s (%s)", c.addr, c.why)
		}
	}
	for _, c := range allowed {
		if err := (egress.Policy{}).CheckAddr(netip.MustParseAddr(c.addr)); err != nil {
			t.Errorf("AWS policy refuses %s (%s): %v", c.addr, c.why, err)
		}
	}
	for _, a := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"} {
		if err := egress.Local.CheckAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("local policy refuses loopback %s: %v", a, err)
		}
	}
	// The local policy allows loopback only in its plain forms.
	for _, a := range []string{"10.0.0.1", "::127.0.0.1", "::ffff:0:7f00:1", "64:ff9b::7f00:1", "2002:7f00:1::", "169.254.169.254"} {
		if err := egress.Local.CheckAddr(netip.MustParseAddr(a)); !errors.Is(err, egress.ErrRefused) {
			t.Errorf("local policy allows %s", a)
		}
	}
}

func TestCheckPort(t *testing.T) {
	t.Parallel()
	if err := (egress.Policy{}).CheckPort(443); err != nil {
		t.Errorf("AWS policy refuses 443: %v", err)
	}
	for _, port := range []uint16{0, 22, 80, 8080, 8443, 6379, 65535} {
		if err := (egress.Policy{}).CheckPort(port); !errors.Is(err, egress.ErrRefused) {
			t.Errorf("AWS policy allows port %d", port)
		}
		if err := egress.Local.CheckPort(port); err != nil {
			t.Errorf("local policy refuses port %d: %v", port, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"http://example.com/hook",                         // plain http
		"ftp://example.com/",                              // not http(s)
		"https://user:pw@example.com/",                    // credentials
		"https:///path",                                   // no host
		"https://127.0.0.1/hook",                          // literal loopback
		"https://[::1]/",                                  // literal loopback, IPv6
		"https://169.254.169.254/latest/meta",             // metadata
		"https://10.1.2.3/",                               // private
		"https://[::127.0.0.1]/",                          // IPv4-compatible loopback
		"https://[::ffff:0:7f00:1]/",                      // IPv4-translated loopback
		"https://[64:ff9b::a9fe:a9fe]/",                   // NAT64 of the metadata endpoint
		"https://[2002:a9fe:a9fe::]/",                     // 6to4 of the metadata endpoint
		"https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", // Teredo
		"https://192.88.99.1/",                            // 6to4 relay anycast
		"https://hooks.example.com:8443/a",                // a port other than 443
		"https://hooks.example.com:80/",                   // a port other than 443
		"https://hooks.example.com:22/",                   // a port other than 443
		"https://hooks.example.com:0/",                    // port 0
		"https://hooks.example.com:99999/",                // not a port
		"https://1.1.1.1:8080/",                           // a public address, another port
		"example.com/hook",                                // relative
		"https://example.com/#frag",                       // fragment
		"https://example.com/" + strings.Repeat("a", 2100),
	} {
		if _, err := (egress.Policy{}).CheckURL(u); !errors.Is(err, egress.ErrRefused) {
			t.Errorf("AWS policy accepts %q", u)
		}
	}
	for _, u := range []string{"https://example.com/hook", "https://hooks.example.com:443/a?b=c", "https://1.1.1.1/", "https://[2606:4700:4700::1111]/"} {
		if _, err := (egress.Policy{}).CheckURL(u); err != nil {
			t.Errorf("AWS policy refuses %q: %v", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:4000/hooks", "https://hooks.example.com:8443/a"} {
		if _, err := egress.Local.CheckURL(u); err != nil {
			t.Errorf("local policy refuses %q: %v", u, err)
		}
	}
}

// TestClientRefusesBeforeConnecting: the dial-time check refuses a port
// other than 443 and every embedding of a refused IPv4 address, before any
// packet is sent (the dialer's Control runs before connect).
func TestClientRefusesBeforeConnecting(t *testing.T) {
	t.Parallel()
	client := (egress.Policy{}).Client(5 * time.Second)
	for _, u := range []string{
		"http://1.1.1.1:80/",
		"https://1.1.1.1:8443/",
		"https://[::127.0.0.1]:443/",
		"https://[::ffff:0:7f00:1]:443/",
		"https://[64:ff9b::a9fe:a9fe]:443/",
		"https://[2002:a9fe:a9fe::]:443/",
		"https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]:443/",
		"https://192.88.99.1:443/",
	} {
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("the AWS policy's client reached %s", u)
			continue
		}
		if !errors.Is(err, egress.ErrRefused) {
			t.Errorf("%s: error %v is not an egress refusal", u, err)
		}
	}
}

// TestClientChecksAtDialTime: a name that resolves to a refused address is
// refused when connecting, whatever it resolved to before (DNS rebinding).
func TestClientChecksAtDialTime(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]

	// "localhost" passes the URL check (a name), and is refused at dial time.
	resp, err := (egress.Policy{}).Client(5 * time.Second).Get("http://localhost" + port)
	if err == nil {
		resp.Body.Close()
		t.Fatal("the AWS policy's client reached a loopback server")
	}
	if !errors.Is(err, egress.ErrRefused) {
		t.Errorf("error %v is not an egress refusal", err)
	}
	if err := (egress.Policy{}).Resolve(context.Background(), "https://localhost"+port); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("Resolve accepted localhost: %v", err)
	}

	resp, err = egress.Local.Client(5 * time.Second).Get(srv.URL)
	if err != nil {
		t.Fatalf("the local policy's client: %v", err)
	}
	resp.Body.Close()
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()
	resp, err := egress.Local.Client(5 * time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d: the redirect was followed", resp.StatusCode)
	}
}
