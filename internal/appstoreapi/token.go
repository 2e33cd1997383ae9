// Package appstoreapi is a small client of Apple's App Store Server API: the
// endpoints the service uses to ask Apple what a purchase is (Get Transaction
// Info, Get All Subscription Statuses, Get Transaction History), to catch up
// on notifications it missed (Get Notification History), and to check a
// publisher's notification URL (Request a Test Notification, Get Test
// Notification Status). No Go client of it is served by the module proxy, so
// it is built on net/http, golang-jwt/jwt/v5 for the bearer token and
// internal/apple's verifier for everything Apple signs in a response.
//
// It also holds the rules of the credentials a publisher gives for it (the
// App Store Connect in-app purchase key): how they are checked, sealed at rest
// and opened again (keys.go).
package appstoreapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audience is the aud claim Apple requires of every bearer token.
const Audience = "appstoreconnect-v1"

// TokenLifetime is how long a bearer token is valid. Apple refuses tokens
// that live over 60 minutes (20 minutes for most keys); a fresh token is made
// per request, so a short one costs nothing and limits what a leaked one can do.
const TokenLifetime = 5 * time.Minute

// Key is an App Store Connect in-app purchase key, with the app it is used for.
type Key struct {
	// IssuerID is the issuer id of the App Store Connect team (a UUID).
	IssuerID string
	// KeyID is the private key's id (10 characters), sent as the token's kid.
	KeyID string
	// BundleID is the app's bundle id, the token's bid.
	BundleID string
	// Private is the key's P-256 private key, from the .p8 file.
	Private *ecdsa.PrivateKey
}

// String names the key without its secret, for errors and logs.
func (k Key) String() string { return fmt.Sprintf("key %s of issuer %s", k.KeyID, k.IssuerID) }

// ErrBadPrivateKey: the file given is not an App Store Connect private key.
var ErrBadPrivateKey = errors.New("not an App Store Connect private key (a PEM PKCS #8 P-256 key, the .p8 file)")

// ParsePrivateKey reads the .p8 file App Store Connect lets you download
// once: PEM "PRIVATE KEY", PKCS #8, an ECDSA P-256 key. Its errors never
// quote the file.
func ParsePrivateKey(p8 []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(p8)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, ErrBadPrivateKey
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, ErrBadPrivateKey
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, ErrBadPrivateKey
	}
	return ec, nil
}

// tokenClaims are the claims Apple asks for: iss, iat, exp, aud and bid.
// aud is a plain string, as Apple's examples show it: jwt's ClaimStrings
// would marshal it as an array.
type tokenClaims struct {
	Issuer    string `json:"iss"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	Audience  string `json:"aud"`
	BundleID  string `json:"bid"`
}

// tokenClaims is signed, never parsed here, so its validation methods are
// jwt's interface only.
func (c tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.ExpiresAt, 0)), nil
}
func (c tokenClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.IssuedAt, 0)), nil
}
func (tokenClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }
func (c tokenClaims) GetIssuer() (string, error)            { return c.Issuer, nil }
func (tokenClaims) GetSubject() (string, error)             { return "", nil }
func (c tokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

// Token is a fresh bearer token for the key, valid from now for TokenLifetime.
func (k Key) Token(now time.Time) (string, error) {
	if k.Private == nil || k.KeyID == "" || k.IssuerID == "" || k.BundleID == "" {
		return "", errors.New("appstoreapi: the key needs an issuer id, a key id, a bundle id and a private key")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, tokenClaims{
		Issuer:    k.IssuerID,
		IssuedAt:  now.Unix(),
		ExpiresAt: now.Add(TokenLifetime).Unix(),
		Audience:  Audience,
		BundleID:  k.BundleID,
	})
	t.Header["kid"] = k.KeyID
	s, err := t.SignedString(k.Private)
	if err != nil {
		return "", fmt.Errorf("appstoreapi: sign the bearer token of %s: %w", k, err)
	}
	return s, nil
}
