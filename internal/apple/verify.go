// Package apple verifies what the App Store signs: App Store Server Notifications V2
// (signedPayload) and the StoreKit 2 signedTransactionInfo and signedRenewalInfo they carry or a
// device sends. Each is a JWS (ES256) whose x5c header holds [leaf, intermediate, root]; it is
// trusted only when that chain leads to Apple Root CA - G3 at the payload's signedDate, both
// certificates carry Apple's marker extensions, and the leaf's key verifies the signature.
// No App Store library is used: golang-jwt/jwt/v5 parses and checks the signature, crypto/x509
// checks the chain.
package apple

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
)

var (
	// ErrMalformed: the input is not a JWS, a segment is not base64 or JSON, or a field the
	// verifier relies on (signedDate, notificationUUID, ...) is missing.
	ErrMalformed = errors.New("apple: malformed JWS")
	// ErrUnverified: the JWS is well formed but not provably Apple's: wrong alg, bad signature,
	// missing or untrusted x5c chain, missing marker extension, certificate not valid at
	// signedDate, or revoked.
	ErrUnverified = errors.New("apple: JWS not verified")
)

// Verifier verifies Apple-signed JWS. It is safe for concurrent use; build one at init and
// share it. Its configuration is fixed; it remembers the x5c chains it verified (the last
// chainCacheSize of them), since checking a chain costs two ECDSA verifications and the
// certificates' parsing, and Apple signs with the same few chains for months. What a chain's
// verification does not depend on time is cached, never a payload: each JWS still has its own
// signature checked with its leaf's key, and its chain's validity judged at its own signedDate.
type Verifier struct {
	roots  *x509.CertPool
	revoke func(ctx context.Context, chain []*x509.Certificate) error
	chains *chainCache
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithRoots replaces Apple Root CA - G3 with the given roots. Tests and the local runner pass the
// pool of internal/apple/localroot; production never does.
func WithRoots(roots *x509.CertPool) Option {
	return func(v *Verifier) { v.roots = roots }
}

// WithRevocationCheck installs a revocation check run on every verified chain
// (chain[0] is the leaf, chain[len-1] the root). It is off by default because Apple's OCSP
// responder (the leaf's and intermediate's AIA URLs) needs the network, which costs latency and
// makes verification fail when Apple's responder is unreachable; a caller that wants it supplies
// an OCSP client here. An error from the check makes the JWS unverified.
func WithRevocationCheck(check func(ctx context.Context, chain []*x509.Certificate) error) Option {
	return func(v *Verifier) { v.revoke = check }
}

// NewVerifier returns a Verifier that trusts only Apple Root CA - G3 unless WithRoots says
// otherwise.
func NewVerifier(opts ...Option) (*Verifier, error) {
	v := &Verifier{chains: newChainCache()}
	for _, o := range opts {
		o(v)
	}
	if v.roots == nil {
		root, err := AppleRootCAG3()
		if err != nil {
			return nil, err
		}
		v.roots = x509.NewCertPool()
		v.roots.AddCert(root)
	}
	return v, nil
}

// VerifyNotification verifies a notification's signedPayload and the signedTransactionInfo and
// signedRenewalInfo inside it, each against the chain in its own header at its own signedDate.
// Nothing is returned unless all of them verify. It does not check which app the notification
// is for: see App.Check.
func (v *Verifier) VerifyNotification(ctx context.Context, signedPayload string) (Notification, error) {
	p, err := verifyJWS[NotificationPayload](ctx, v, "signedPayload", signedPayload)
	if err != nil {
		return Notification{}, err
	}
	switch {
	case p.NotificationUUID == "":
		return Notification{}, fmt.Errorf("%w: signedPayload: notificationUUID missing", ErrMalformed)
	case p.NotificationType == "":
		return Notification{}, fmt.Errorf("%w: signedPayload: notificationType missing", ErrMalformed)
	}
	n := Notification{Payload: p}
	if p.Data == nil {
		return n, nil
	}
	if s := p.Data.SignedTransactionInfo; s != "" {
		t, err := v.verifyTransaction(ctx, "data.signedTransactionInfo", s)
		if err != nil {
			return Notification{}, err
		}
		n.Transaction = &t
	}
	if s := p.Data.SignedRenewalInfo; s != "" {
		r, err := v.verifyRenewal(ctx, "data.signedRenewalInfo", s)
		if err != nil {
			return Notification{}, err
		}
		n.Renewal = &r
	}
	return n, nil
}

// VerifyTransaction verifies a StoreKit 2 signedTransactionInfo, e.g. one a device sent.
func (v *Verifier) VerifyTransaction(ctx context.Context, jws string) (TransactionInfo, error) {
	return v.verifyTransaction(ctx, "signedTransactionInfo", jws)
}

// VerifyRenewal verifies a StoreKit 2 signedRenewalInfo.
func (v *Verifier) VerifyRenewal(ctx context.Context, jws string) (RenewalInfo, error) {
	return v.verifyRenewal(ctx, "signedRenewalInfo", jws)
}

func (v *Verifier) verifyTransaction(ctx context.Context, what, jws string) (TransactionInfo, error) {
	t, err := verifyJWS[TransactionInfo](ctx, v, what, jws)
	if err != nil {
		return TransactionInfo{}, err
	}
	// Without these the transaction cannot be matched to a purchase or an app.
	switch {
	case t.TransactionID == "":
		return TransactionInfo{}, fmt.Errorf("%w: %s: transactionId missing", ErrMalformed, what)
	case t.OriginalTransactionID == "":
		return TransactionInfo{}, fmt.Errorf("%w: %s: originalTransactionId missing", ErrMalformed, what)
	case t.BundleID == "":
		return TransactionInfo{}, fmt.Errorf("%w: %s: bundleId missing", ErrMalformed, what)
	}
	return t, nil
}

func (v *Verifier) verifyRenewal(ctx context.Context, what, jws string) (RenewalInfo, error) {
	r, err := verifyJWS[RenewalInfo](ctx, v, what, jws)
	if err != nil {
		return RenewalInfo{}, err
	}
	if r.OriginalTransactionID == "" {
		return RenewalInfo{}, fmt.Errorf("%w: %s: originalTransactionId missing", ErrMalformed, what)
	}
	return r, nil
}
