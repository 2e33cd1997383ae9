package apple_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/internal/apple"
)

// appleRootG3SHA256 is the SHA-256 fingerprint Apple publishes for Apple Root CA - G3 at
// https://www.apple.com/certificateauthority/ (also APPLE_ROOT_CA_G3_FINGERPRINT in the
// app-store-server-api package). Pinning it means the embedded PEM cannot be swapped or
// corrupted without this test failing.
const appleRootG3SHA256 = "63 34 3A BF B8 9A 6A 03 EB B5 7E 9B 3F 5F A7 BE 7C 4F 5C 75 6F 30 17 B3 A8 C4 88 C3 65 3E 91 79"

func TestAppleRootG3Fingerprint(t *testing.T) {
	root, err := apple.AppleRootCAG3()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(root.Raw)
	if got, want := hex.EncodeToString(sum[:]), strings.ToLower(strings.ReplaceAll(appleRootG3SHA256, " ", "")); got != want {
		t.Errorf("embedded root SHA-256 = %s, want %s", got, want)
	}
	if root.Subject.CommonName != "Apple Root CA - G3" || root.Issuer.CommonName != "Apple Root CA - G3" {
		t.Errorf("subject %q issuer %q, want Apple Root CA - G3, self-issued", root.Subject, root.Issuer)
	}
	if !root.IsCA {
		t.Error("embedded root is not a CA")
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("embedded root is not self-signed: %v", err)
	}
}
