package apple

import (
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"sync"
)

// appleRootG3PEM is Apple Root CA - G3 as published at
// https://www.apple.com/certificateauthority/AppleRootCA-G3.cer. It is embedded rather than
// fetched so that a cold start needs no network and an attacker who controls DNS cannot swap the
// trust anchor; TestAppleRootG3Fingerprint pins it to Apple's published SHA-256.
//
//go:embed AppleRootCA-G3.pem
var appleRootG3PEM []byte

var appleRootG3 = sync.OnceValues(func() (*x509.Certificate, error) {
	block, _ := pem.Decode(appleRootG3PEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("apple: embedded Apple Root CA - G3 is not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
})

// AppleRootCAG3 returns the embedded Apple Root CA - G3, the only root a default Verifier trusts.
func AppleRootCAG3() (*x509.Certificate, error) {
	return appleRootG3()
}
