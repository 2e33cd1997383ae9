package localroot_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
)

func newAuthority(t *testing.T, opts ...localroot.Option) *localroot.Authority {
	t.Helper()
	a, err := localroot.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The chain has Apple's shape: a self-signed root named as not Apple's, an intermediate and a
// leaf with the marker extensions encoded as Apple encodes them.
func TestChainShape(t *testing.T) {
	a := newAuthority(t)
	if a.Root().Subject.CommonName != localroot.RootCommonName || a.Root().CheckSignatureFrom(a.Root()) != nil {
		t.Errorf("root %q is not self-signed %q", a.Root().Subject, localroot.RootCommonName)
	}
	for name, c := range map[string]struct {
		cert *x509.Certificate
		oid  asn1.ObjectIdentifier
	}{
		"intermediate": {a.Intermediate(), localroot.OIDIntermediateMarker},
		"leaf":         {a.Leaf(), localroot.OIDLeafMarker},
	} {
		found := false
		for _, e := range c.cert.Extensions {
			if e.Id.Equal(c.oid) {
				found = true
				if e.Critical || !bytes.Equal(e.Value, []byte{0x05, 0x00}) {
					t.Errorf("%s marker: critical=%v value=%x, want non-critical NULL", name, e.Critical, e.Value)
				}
			}
		}
		if !found {
			t.Errorf("%s lacks marker %v", name, c.oid)
		}
	}
	if _, err := a.Leaf().Verify(x509.VerifyOptions{Roots: a.Pool(), Intermediates: pool(a.Intermediate())}); err != nil {
		t.Errorf("leaf does not chain to the root: %v", err)
	}
	noMarker, err := a.Issue(localroot.WithoutLeafMarker(), localroot.WithoutIntermediateMarker())
	if err != nil {
		t.Fatal(err)
	}
	if hasOID(noMarker.Leaf(), localroot.OIDLeafMarker) || hasOID(noMarker.Intermediate(), localroot.OIDIntermediateMarker) {
		t.Error("Without*Marker left a marker")
	}
	if !noMarker.Root().Equal(a.Root()) {
		t.Error("Issue changed the root")
	}
}

// Sign's header is Apple's: alg ES256 and x5c [leaf, intermediate, root] in standard base64.
func TestSignHeader(t *testing.T) {
	a := newAuthority(t)
	jws, err := a.Sign(map[string]any{"signedDate": 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var header struct {
		Alg string   `json:"alg"`
		X5C []string `json:"x5c"`
	}
	if err := json.Unmarshal(h, &header); err != nil {
		t.Fatal(err)
	}
	want := []*x509.Certificate{a.Leaf(), a.Intermediate(), a.Root()}
	if header.Alg != "ES256" || len(header.X5C) != 3 {
		t.Fatalf("header = %s", h)
	}
	for i, s := range header.X5C {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil || !bytes.Equal(der, want[i].Raw) {
			t.Errorf("x5c[%d] is not certificate %d in standard base64", i, i)
		}
	}
}

// A root written to disk and loaded by another process signs chains a verifier trusting the
// original root accepts; a key of another root is refused.
func TestWritePEMLoad(t *testing.T) {
	a := newAuthority(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "root.pem"), filepath.Join(dir, "root-key.pem")
	if err := a.WritePEM(cert, key); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(key); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	loaded, err := localroot.Load(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Root().Equal(a.Root()) || loaded.Leaf().Equal(a.Leaf()) {
		t.Error("Load should keep the root and issue a new leaf")
	}
	v, err := apple.NewVerifier(apple.WithRoots(a.Pool()))
	if err != nil {
		t.Fatal(err)
	}
	tx := apple.TransactionInfo{TransactionID: "2", OriginalTransactionID: "1", BundleID: "com.acme.video",
		Environment: apple.EnvironmentSandbox, SignedDate: time.Now().UnixMilli()}
	jws, err := loaded.Sign(tx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.VerifyTransaction(context.Background(), jws); err != nil || got != tx {
		t.Errorf("VerifyTransaction = %+v, %v", got, err)
	}

	other := newAuthority(t)
	otherCert, otherKey := filepath.Join(dir, "other.pem"), filepath.Join(dir, "other-key.pem")
	if err := other.WritePEM(otherCert, otherKey); err != nil {
		t.Fatal(err)
	}
	if _, err := localroot.Load(cert, otherKey); err == nil {
		t.Error("Load accepted another root's key")
	}
	if _, err := localroot.Load(filepath.Join(dir, "missing.pem"), key); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v", err)
	}
}

// SignNotification nests the signed transaction and renewal and leaves the caller's data alone.
func TestSignNotification(t *testing.T) {
	a := newAuthority(t)
	v, err := apple.NewVerifier(apple.WithRoots(a.Pool()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	data := &apple.NotificationData{BundleID: "com.acme.video", Environment: apple.EnvironmentSandbox}
	p := apple.NotificationPayload{NotificationType: apple.TypeSubscribed, Subtype: apple.SubtypeInitialBuy,
		NotificationUUID: "u1", Version: "2.0", SignedDate: now, Data: data}
	tx := &apple.TransactionInfo{TransactionID: "2", OriginalTransactionID: "1", BundleID: "com.acme.video",
		Environment: apple.EnvironmentSandbox, SignedDate: now}
	r := &apple.RenewalInfo{OriginalTransactionID: "1", AutoRenewStatus: 1, Environment: apple.EnvironmentSandbox, SignedDate: now}
	jws, err := localroot.SignNotification(a, p, tx, r)
	if err != nil {
		t.Fatal(err)
	}
	if data.SignedTransactionInfo != "" {
		t.Error("SignNotification changed the caller's data")
	}
	n, err := v.VerifyNotification(context.Background(), jws)
	if err != nil {
		t.Fatal(err)
	}
	if *n.Transaction != *tx || n.Renewal.AutoRenewStatus != 1 || n.Payload.Data.BundleID != "com.acme.video" {
		t.Errorf("got %+v", n)
	}
	// Without data, transaction info alone still makes a data object.
	p.Data = nil
	if jws, err = localroot.SignNotification(a, p, tx, nil); err != nil {
		t.Fatal(err)
	}
	if n, err = v.VerifyNotification(context.Background(), jws); err != nil || n.Transaction == nil || n.Renewal != nil {
		t.Errorf("got %+v, %v", n, err)
	}
}

func pool(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

func hasOID(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}
