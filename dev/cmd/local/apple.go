package main

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/acme/purchase-transfer/dev/demoseed"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
)

// appleRoot is the run's local stand-in for Apple Root CA - G3: made fresh
// for every run and written as PEM files, so that any tool (transferctl apple
// notify, a test of the user's own) can sign a chain under it.
type appleRoot struct {
	authority         *localroot.Authority
	certPath, keyPath string
}

func newAppleRoot(stateDir string) (appleRoot, error) {
	a, err := localroot.New()
	if err != nil {
		return appleRoot{}, fmt.Errorf("apple test root: %w", err)
	}
	r := appleRoot{authority: a, certPath: filepath.Join(stateDir, "apple-test-root.pem"), keyPath: filepath.Join(stateDir, "apple-test-root-key.pem")}
	if err := a.WritePEM(r.certPath, r.keyPath); err != nil {
		return appleRoot{}, fmt.Errorf("apple test root: %w", err)
	}
	return r, nil
}

// with adds the Apple variables to run.env.
func (r appleRoot) with(env map[string]string, apiURL string) map[string]string {
	env["APPLE_TEST_ROOT_CERT"] = r.certPath
	env["APPLE_TEST_ROOT_KEY"] = r.keyPath
	env["APPLE_BUNDLE_ID"] = demoseed.AppleBundleID
	env["APPLE_APP_APPLE_ID"] = strconv.FormatInt(demoseed.AppleAppAppleID, 10)
	env["APPLE_PRODUCT_ID"] = demoseed.ProductID
	env["APPLE_NOTIFICATIONS_URL"] = apiURL + "/apple/notifications/" + strconv.FormatInt(int64(demoseed.PublisherID), 10)
	return env
}

const appleWalkthrough = `
Apple keeps purchases true (notifications signed under this run's local test root,
APPLE_TEST_ROOT_CERT; the demo publisher's app is APPLE_BUNDLE_ID):

  # A renewal: a new transactionId joins TX_ACTIVE's chain and can be transferred.
  bin/transferctl --local apple notify --type DID_RENEW --transaction-id 2000000000000501 --original-transaction-id $TX_ACTIVE
  bin/transferctl --local purchase show 2000000000000501
  # A refund: the purchase is revoked; a transfer of it ends RECEIVED_EXPIRED_PURCHASE.
  bin/transferctl --local apple notify --type REFUND --transaction-id $TX_ACTIVE_2
`
