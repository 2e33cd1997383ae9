package egress_test

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// neverReachable lists, independently of the policy's own tables, ranges a webhook must never
// reach from AWS: loopback, private, link-local (the metadata endpoints), shared and benchmark
// space, and every IPv6 form that embeds an IPv4 address.
var neverReachable = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/3",
		"::/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "2001::/32", "2002::/16",
		"fc00::/7", "fe80::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// awsPolicy is the zero policy, the one of AWS.
var awsPolicy egress.Policy

// FuzzCheckAddr: no address the AWS policy allows lies in a range a webhook must never reach,
// whether written as IPv4, IPv4-mapped IPv6 or any other IPv6 form.
func FuzzCheckAddr(f *testing.F) {
	for _, s := range []string{"169.254.169.254", "::ffff:169.254.169.254", "::127.0.0.1", "::ffff:0:7f00:1",
		"2002:a9fe:a9fe::", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.88.99.1", "8.8.8.8", "2606:4700::1111"} {
		f.Add(netip.MustParseAddr(s).AsSlice())
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		addr, ok := netip.AddrFromSlice(raw)
		if !ok {
			return
		}
		if awsPolicy.CheckAddr(addr) != nil {
			return
		}
		for _, p := range neverReachable {
			if p.Contains(addr) || p.Contains(addr.Unmap()) {
				t.Fatalf("%s is allowed, but it is in %s", addr, p)
			}
		}
	})
}

// FuzzWebhookURL: a webhook URL the AWS policy accepts is https, names a host, carries no
// credentials, and connects to port 443; a literal address in it is one CheckAddr allows.
func FuzzWebhookURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/cleeng", "https://[::ffff:127.0.0.1]/", "https://user:pw@example.com/",
		"https://example.com:8443/x", "http://example.com/", "https://0x7f.1/", "https://[fe80::1%25eth0]/", "https:///x", "//example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := awsPolicy.CheckURL(raw)
		if err != nil {
			return
		}
		again, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", raw, err)
		}
		switch {
		case again.Scheme != "https" || u.Scheme != "https":
			t.Fatalf("accepted scheme %q", again.Scheme)
		case again.User != nil:
			t.Fatalf("accepted credentials in %q", raw)
		case again.Hostname() == "":
			t.Fatalf("accepted %q without a host", raw)
		case again.Port() != "" && strings.TrimLeft(again.Port(), "0") != "443":
			t.Fatalf("accepted port %q", again.Port())
		}
		if addr, err := netip.ParseAddr(again.Hostname()); err == nil {
			if awsPolicy.CheckAddr(addr) != nil {
				t.Fatalf("accepted the literal address %s", addr)
			}
		}
	})
}
