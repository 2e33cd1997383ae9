package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// secretPrefix and secretSize make secrets of the form whsec_<base64 of 32
// random bytes>, as Standard Webhooks libraries expect them.
const (
	secretPrefix = "whsec_"
	secretSize   = 32
)

// NewSecret makes a signing secret: the form shown to the publisher once, and
// the key bytes that are sealed and stored.
func NewSecret() (shown string, key []byte) {
	key = make([]byte, secretSize)
	_, _ = rand.Read(key)
	return FormatSecret(key), key
}

// FormatSecret is the whsec_ form of a key.
func FormatSecret(key []byte) string {
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Sign sets the Standard Webhooks headers of one attempt: webhook-id (the
// event's id, the same on every retry), webhook-timestamp (this attempt's
// time, so receivers' replay windows accept late retries) and
// webhook-signature with one v1 signature per key, newest first, so a
// receiver holding either secret of a rotation verifies it.
func Sign(h http.Header, id string, at time.Time, body []byte, keys [][]byte) error {
	if len(keys) == 0 {
		return fmt.Errorf("no signing key")
	}
	sigs := make([]string, len(keys))
	for i, k := range keys {
		wh, err := standardwebhooks.NewWebhookRaw(k)
		if err != nil {
			return fmt.Errorf("signer: %w", err)
		}
		if sigs[i], err = wh.Sign(id, at, body); err != nil {
			return fmt.Errorf("sign: %w", err)
		}
	}
	h.Set(standardwebhooks.HeaderWebhookID, id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, strings.Join(sigs, " "))
	return nil
}
