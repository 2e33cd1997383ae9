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
	refused := []string{
		"127.0.0.1", "127.9.9.9", "::1", // loopback
		"10.0.0.1", "172.16.5.4", "192.168.1.1", "fd00::1", "fd00:ec2::254", // private, incl. EC2's IPv6 metadata
		"169.254.169.254", "fe80::1", // link-local, incl. the metadata endpoint
		"0.0.0.0", "::", // unspecified
		"224.0.0.1", "ff02::1", // multicast
		"100.64.0.1", "198.18.0.1", "192.0.0.8", "240.0.0.1", "255.255.255.255", "0.1.2.3",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", // IPv4-mapped
		"64:ff9b::a00:1", // NAT64 of 10.0.0.1
	}
	allowed := []string{"1.1.1.1", "8.8.8.8", "52.94.236.248", "2606:4700:4700::1111", "::ffff:1.1.1.1"}
	for _, a := range refused {
		if err := (egress.Policy{}).CheckAddr(netip.MustParseAddr(a)); !errors.Is(err, egress.ErrRefused) {
			t.Errorf("AWS policy allows %s", a)
		}
	}
	for _, a := range allowed {
		if err := (egress.Policy{}).CheckAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("AWS policy refuses %s: %v", a, err)
		}
	}
	if err := egress.Local.CheckAddr(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Errorf("local policy refuses loopback: %v", err)
	}
	if err := egress.Local.CheckAddr(netip.MustParseAddr("10.0.0.1")); err == nil {
		t.Error("local policy allows a private address")
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"http://example.com/hook",             // plain http
		"ftp://example.com/",                  // not http(s)
		"https://user:pw@example.com/",        // credentials
		"https:///path",                       // no host
		"https://127.0.0.1/hook",              // literal loopback
		"https://[::1]:8443/",                 // literal loopback, IPv6
		"https://169.254.169.254/latest/meta", // metadata
		"https://10.1.2.3/",                   // private
		"example.com/hook",                    // relative
		"https://example.com/#frag",           // fragment
		"https://example.com/" + strings.Repeat("a", 2100),
	} {
		if _, err := (egress.Policy{}).CheckURL(u); !errors.Is(err, egress.ErrRefused) {
			t.Errorf("AWS policy accepts %q", u)
		}
	}
	for _, u := range []string{"https://example.com/hook", "https://hooks.example.com:8443/a?b=c", "https://1.1.1.1/"} {
		if _, err := (egress.Policy{}).CheckURL(u); err != nil {
			t.Errorf("AWS policy refuses %q: %v", u, err)
		}
	}
	if _, err := egress.Local.CheckURL("http://127.0.0.1:4000/hooks"); err != nil {
		t.Errorf("local policy refuses a loopback receiver: %v", err)
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
