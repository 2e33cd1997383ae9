package auth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/auth"
)

// FuzzCustomerJWTClaims signs whatever header and claims a token issuer could
// put in a customer JWT with the right key, so that the fuzzer explores what
// is decided after the signature: the claims. Whatever they are, a token is
// refused with ErrInvalidJWT, or accepted only with a positive publisher and
// customer, an exp in the future, an iat, and a lifetime within the maximum.
func FuzzCustomerJWTClaims(f *testing.F) {
	now := time.Now().Unix()
	hs := `{"alg":"HS256","typ":"JWT"}`
	f.Add(hs, `{"customerId":42,"publisherId":7,"iat":`+strconv.FormatInt(now, 10)+`,"exp":`+strconv.FormatInt(now+600, 10)+`}`)
	f.Add(hs, `{"customerId":"42","publisherId":"7","iat":`+strconv.FormatInt(now, 10)+`,"exp":`+strconv.FormatInt(now+90000, 10)+`}`)
	f.Add(`{"alg":"HS256","crit":["b64"]}`, `{"customerId":1,"publisherId":1,"exp":1e12}`)
	f.Add(`{"alg":"none"}`, `{"customerId":-1,"publisherId":0,"iat":1.5,"exp":"soon","nbf":[]}`)
	f.Add(hs, `{"customerId":9223372036854775808,"publisherId":"0x7","iat":0,"exp":1e400}`)

	v := auth.NewVerifier(auth.JWTConfig{HS256Secret: hsSecret})
	f.Fuzz(func(t *testing.T, header, claims string) {
		token := signHS256(header, claims)
		cred, err := v.Verify(context.Background(), token)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidJWT) {
				t.Fatalf("refused with %v, not ErrInvalidJWT", err)
			}
			return
		}
		if cred.Publisher <= 0 || cred.Customer <= 0 {
			t.Fatalf("accepted %+v from claims %s", cred, claims)
		}
		var c struct {
			IAT, EXP float64
		}
		if json.Unmarshal([]byte(claims), &c) != nil {
			t.Fatalf("accepted claims that are not a JSON object with numeric iat and exp: %s", claims)
		}
		if c.IAT == 0 || c.EXP < float64(time.Now().Add(-auth.DefaultLeeway).Unix()) {
			t.Fatalf("accepted without iat or after exp: %s", claims)
		}
		if lifetime := time.Duration((c.EXP - c.IAT) * float64(time.Second)); lifetime > auth.DefaultMaxLifetime {
			t.Fatalf("accepted a lifetime of %v: %s", lifetime, claims)
		}
	})
}

func signHS256(header, claims string) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, hsSecret)
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}
