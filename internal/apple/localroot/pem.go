package localroot

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

var errKeyMismatch = errors.New("localroot: key does not match the root certificate")

// WritePEM writes the root certificate and the root key (PKCS #8, mode 0600) so that another
// process (the local runner, a demo tool) can Load the same root and sign chains a verifier
// configured with that certificate accepts.
func (a *Authority) WritePEM(certPath, keyPath string) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(a.rootKey)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.root.Raw})
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// Load reads a root written by WritePEM and issues a fresh intermediate and leaf under it.
// Intermediate and leaf are not persisted: a verifier trusts only the root, so any chain under
// it will do.
func Load(certPEMPath, keyPEMPath string, opts ...Option) (*Authority, error) {
	root, err := readCert(certPEMPath)
	if err != nil {
		return nil, err
	}
	key, err := readKey(keyPEMPath)
	if err != nil {
		return nil, err
	}
	pub, ok := root.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errKeyMismatch
	}
	return fromRoot(root, key, opts)
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("localroot: %s: no PEM CERTIFICATE", path)
	}
	return x509.ParseCertificate(block.Bytes)
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("localroot: %s: no PEM block", path)
	}
	switch block.Type {
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("localroot: %s: not an ECDSA key", path)
		}
		return ec, nil
	default:
		return nil, fmt.Errorf("localroot: %s: unexpected PEM type %q", path, block.Type)
	}
}
