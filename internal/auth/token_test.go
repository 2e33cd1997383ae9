package auth_test

import (
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/transfer"
)

func TestPublisherTokenRoundTrip(t *testing.T) {
	t.Parallel()
	for _, p := range []transfer.PublisherID{1, 7, 123456789, 1<<63 - 1} {
		token, hash := auth.NewPublisherToken(p)
		cred, ok := auth.ParsePublisherToken(token)
		if !ok {
			t.Fatalf("ParsePublisherToken(%q) refused a token it generated", token)
		}
		if cred.Publisher != p {
			t.Errorf("publisher = %d, want %d", cred.Publisher, p)
		}
		if cred.TokenHash != hash || hash != auth.HashToken(token) {
			t.Errorf("hash %q, parsed %q, HashToken %q: want all equal", hash, cred.TokenHash, auth.HashToken(token))
		}
		if cred.IsCustomer() || cred.Customer != 0 {
			t.Errorf("a publisher token parsed as a customer credential: %+v", cred)
		}
		if strings.Contains(hash, token) || len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
			t.Errorf("hash %q is not a 64-character hex digest", hash)
		}
		if strings.ContainsAny(token, " \t,;") {
			t.Errorf("token %q carries characters a header parser would split on", token)
		}
	}
}

func TestPublisherTokensAreRandom(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		token, hash := auth.NewPublisherToken(7)
		if seen[token] || seen[hash] {
			t.Fatalf("token or hash repeated: %q", token)
		}
		seen[token], seen[hash] = true, true
	}
}

func TestHashTokenIsStable(t *testing.T) {
	t.Parallel()
	token := "pt_1_x"
	if first, again := auth.HashToken(token), auth.HashToken(strings.Clone(token)); first != again {
		t.Errorf("HashToken is not deterministic: %q then %q", first, again)
	}
	if auth.HashToken("pt_1_x") == auth.HashToken("pt_1_y") {
		t.Error("HashToken collides on different tokens")
	}
}

func TestParsePublisherTokenRefusesMalformed(t *testing.T) {
	t.Parallel()
	good, _ := auth.NewPublisherToken(7)
	secret := good[len("pt_7_"):]
	if len(secret) != 43 {
		t.Fatalf("secret of a generated token is %d characters", len(secret))
	}
	tests := map[string]string{
		"empty":                "",
		"prefix only":          "pt_",
		"no secret":            "pt_7",
		"empty secret":         "pt_7_",
		"wrong prefix":         "tk_7_" + secret,
		"upper-case prefix":    "PT_7_" + secret,
		"no prefix":            "7_" + secret,
		"non-numeric":          "pt_abc_" + secret,
		"empty publisher":      "pt__" + secret,
		"zero publisher":       "pt_0_" + secret,
		"negative publisher":   "pt_-7_" + secret,
		"overflowing":          "pt_9223372036854775808_" + secret,
		"hex publisher":        "pt_0x7_" + secret,
		"secret one short":     "pt_7_" + secret[1:],
		"secret one long":      "pt_7_" + secret + "A",
		"secret twice as long": "pt_7_" + secret + secret,
		"bearer-like":          "Bearer " + good,
	}
	for name, token := range tests {
		if cred, ok := auth.ParsePublisherToken(token); ok {
			t.Errorf("%s: ParsePublisherToken(%q) = %+v, want refusal", name, token, cred)
		}
	}
}
