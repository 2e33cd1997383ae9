// Package auth turns request credentials into a transfer.Credential: publisher
// tokens (opaque to clients, stored only as hashes) and customer JWTs.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// tokenPrefix marks a publisher token. The publisher id follows it so that a
// token is looked up by publisher and hash, never by hash alone.
const tokenPrefix = "pt_"

// tokenSecretBytes is the randomness of a token: 256 bits.
const tokenSecretBytes = 32

// NewPublisherToken generates a token for a publisher. The token is shown once
// to the operator; only its hash is stored.
func NewPublisherToken(p transfer.PublisherID) (token, hash string) {
	secret := make([]byte, tokenSecretBytes)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails on supported platforms
	token = tokenPrefix + strconv.FormatInt(int64(p), 10) + "_" + base64.RawURLEncoding.EncodeToString(secret)
	return token, HashToken(token)
}

// HashToken is the stored form of a publisher token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ParsePublisherToken reads the publisher a token claims to belong to. It
// does not say whether the token is valid: only its hash in storage can.
func ParsePublisherToken(token string) (transfer.Credential, bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return transfer.Credential{}, false
	}
	digits, secret, ok := strings.Cut(rest, "_")
	if !ok || len(secret) != base64.RawURLEncoding.EncodedLen(tokenSecretBytes) {
		return transfer.Credential{}, false
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 {
		return transfer.Credential{}, false
	}
	return transfer.Credential{Publisher: transfer.PublisherID(id), TokenHash: HashToken(token)}, true
}
