// Package localroot is a local stand-in for Apple's signing PKI, for tests, the local runner and
// `transferctl apple notify` (which is why it lives under internal/: transferctl ships). Nothing
// it signs is trusted in AWS: the Lambdas build their verifier with Apple Root CA - G3 alone and
// take no roots from their configuration. An Authority is a self-signed root ("Local Test Root CA - not Apple"),
// an intermediate and a leaf carrying Apple's marker extensions, so that what it signs has the
// shape of App Store JWS and verifies with internal/apple given apple.WithRoots(a.Pool()).
// Options and sign options build the forgeries the verifier must refuse.
package localroot

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"
	"time"
)

// Apple's marker extensions, as internal/apple requires them.
var (
	OIDLeafMarker         = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 11, 1}
	OIDIntermediateMarker = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 2, 1}
)

// RootCommonName names the root so nobody mistakes a local chain for Apple's.
const RootCommonName = "Local Test Root CA - not Apple"

// validity is how far back and forward certificates are valid by default: wide enough that any
// signedDate a test or a demo picks falls inside.
const validity = 10 * 365 * 24 * time.Hour

// Authority signs like Apple: a root, an intermediate and a leaf, each with its key.
type Authority struct {
	root, inter, leaf          *x509.Certificate
	rootKey, interKey, leafKey *ecdsa.PrivateKey
}

type config struct {
	noLeafMarker, noInterMarker bool
	leafFrom, leafTo            time.Time
	interFrom, interTo          time.Time
}

// Option changes the intermediate and leaf an Authority issues, to build forgeries.
type Option func(*config)

// WithoutLeafMarker issues a leaf lacking OID 1.2.840.113635.100.6.11.1.
func WithoutLeafMarker() Option { return func(c *config) { c.noLeafMarker = true } }

// WithoutIntermediateMarker issues an intermediate lacking OID 1.2.840.113635.100.6.2.1.
func WithoutIntermediateMarker() Option { return func(c *config) { c.noInterMarker = true } }

// WithLeafValidity sets the leaf's NotBefore and NotAfter.
func WithLeafValidity(notBefore, notAfter time.Time) Option {
	return func(c *config) { c.leafFrom, c.leafTo = notBefore, notAfter }
}

// WithIntermediateValidity sets the intermediate's NotBefore and NotAfter.
func WithIntermediateValidity(notBefore, notAfter time.Time) Option {
	return func(c *config) { c.interFrom, c.interTo = notBefore, notAfter }
}

// New generates a fresh P-256 root and issues an intermediate and a leaf under it.
func New(opts ...Option) (*Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	root, err := issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: RootCommonName, Organization: []string{"purchase-transfer dev"}},
		NotBefore:             now.Add(-validity),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, key, key)
	if err != nil {
		return nil, err
	}
	return fromRoot(root, key, opts)
}

// Issue returns a sibling Authority: the same root, a new intermediate and leaf shaped by
// opts. Forgeries are built this way so that they fail for the reason under test, not because
// of an unknown root.
func (a *Authority) Issue(opts ...Option) (*Authority, error) {
	return fromRoot(a.root, a.rootKey, opts)
}

func fromRoot(root *x509.Certificate, rootKey *ecdsa.PrivateKey, opts []Option) (*Authority, error) {
	now := time.Now()
	c := config{leafFrom: now.Add(-validity), leafTo: now.Add(validity), interFrom: now.Add(-validity), interTo: now.Add(validity)}
	for _, o := range opts {
		o(&c)
	}
	a := &Authority{root: root, rootKey: rootKey}
	var err error
	if a.interKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if a.leafKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	inter := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Local Test Intermediate - not Apple"},
		NotBefore:             c.interFrom,
		NotAfter:              c.interTo,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if !c.noInterMarker {
		inter.ExtraExtensions = []pkix.Extension{marker(OIDIntermediateMarker)}
	}
	if a.inter, err = issue(inter, root, a.interKey, rootKey); err != nil {
		return nil, err
	}
	leaf := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "Local Test Signing Leaf - not Apple"},
		NotBefore: c.leafFrom,
		NotAfter:  c.leafTo,
		KeyUsage:  x509.KeyUsageDigitalSignature,
	}
	if !c.noLeafMarker {
		leaf.ExtraExtensions = []pkix.Extension{marker(OIDLeafMarker)}
	}
	if a.leaf, err = issue(leaf, a.inter, a.leafKey, a.interKey); err != nil {
		return nil, err
	}
	return a, nil
}

// marker is an Apple marker extension: non-critical, value ASN.1 NULL, as in Apple's certificates.
func marker(oid asn1.ObjectIdentifier) pkix.Extension {
	return pkix.Extension{Id: oid, Critical: false, Value: []byte{0x05, 0x00}}
}

// issue signs tmpl (with key's public half) by parent/parentKey; a nil parent self-signs.
func issue(tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("localroot: issue %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// Pool is a pool holding only the root, for apple.WithRoots.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.root)
	return p
}

// Root, Intermediate and Leaf return the certificates.
func (a *Authority) Root() *x509.Certificate         { return a.root }
func (a *Authority) Intermediate() *x509.Certificate { return a.inter }
func (a *Authority) Leaf() *x509.Certificate         { return a.leaf }

// X5C is the x5c header Sign puts in every JWS: [leaf, intermediate, root], standard base64 DER.
func (a *Authority) X5C() []string {
	return []string{
		base64.StdEncoding.EncodeToString(a.leaf.Raw),
		base64.StdEncoding.EncodeToString(a.inter.Raw),
		base64.StdEncoding.EncodeToString(a.root.Raw),
	}
}
