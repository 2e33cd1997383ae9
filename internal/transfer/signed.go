package transfer

import (
	"context"
	"errors"
	"log/slog"
)

// SignedTransaction is what a verified StoreKit 2 signed transaction says
// about the purchase it belongs to.
type SignedTransaction struct {
	TransactionID         string
	OriginalTransactionID string
}

// SignedTransactionVerifier verifies the signedTransactionInfo a customer's
// device holds (a JWS of Apple's) and that it is for the publisher's app. It
// fails with an error wrapping ErrSignedTransactionOtherApp when the
// transaction is Apple's but for another bundleId or environment, and with
// any other error when it does not verify.
type SignedTransactionVerifier interface {
	VerifySignedTransaction(ctx context.Context, jws string, app AppleApp) (SignedTransaction, error)
}

// ErrSignedTransactionOtherApp: a signed transaction that verifies, but for
// another app or environment than the publisher's.
var ErrSignedTransactionOtherApp = errors.New("signed transaction is for another app")

// WithSignedTransactionVerifier lets an Acceptor check the signedTransactionInfo
// of publishers that require one (docs/contract.md §1.6–§1.7, AUTH0004). Without
// it, such publishers' customer-JWT transfers are all refused: nothing could
// verify them.
func WithSignedTransactionVerifier(v SignedTransactionVerifier) Option {
	return func(o *options) { o.signed = v }
}

// Messages of the AUTH0004 details: why the signed transaction did not prove
// possession of the purchase.
const (
	signedTxMissing    = "is required: the publisher requires a signed transaction for customer tokens"
	signedTxNoApp      = "cannot be verified: the publisher has no Apple app configured"
	signedTxNoVerifier = "cannot be verified by this service"
	signedTxUnverified = "does not verify as a transaction signed by Apple"
	signedTxOtherApp   = "is for another app or environment than the publisher's"
	signedTxOtherChain = "names another purchase than transactionId"
)

// checkSignedTransaction is the AUTH0004 check of docs/contract.md §1.6 row 5, §1.7: when
// the publisher requires it, a customer-JWT transfer must carry a signed
// transaction that verifies, is for the publisher's app, and names the
// requested purchase. chain is the originalTransactionId the directory
// resolved for the requested transactionId ("" when unknown).
func (a *Acceptor) checkSignedTransaction(ctx context.Context, c Credential, p *Publisher, req Request, chain string) error {
	if !c.IsCustomer() || !p.RequireSignedTransaction {
		return nil
	}
	refuse := func(why string) error {
		return Refuse(CodeSignedTxRequired, "A signed transaction of the purchase is required for this customer token.",
			FieldError{Field: "signedTransactionInfo", Message: why})
	}
	switch {
	case req.SignedTransactionInfo == "":
		return refuse(signedTxMissing)
	case p.Apple == nil:
		return refuse(signedTxNoApp)
	case a.signed == nil:
		return refuse(signedTxNoVerifier)
	}
	st, err := a.signed.VerifySignedTransaction(ctx, req.SignedTransactionInfo, *p.Apple)
	if err != nil {
		// The reason goes to the log only: the client learns which check
		// failed, not what the verifier saw.
		slog.InfoContext(ctx, "signed transaction refused", "publisherId", p.ID, "error", err)
		if errors.Is(err, ErrSignedTransactionOtherApp) {
			return refuse(signedTxOtherApp)
		}
		return refuse(signedTxUnverified)
	}
	if !sameChain(st, req.TransactionID, chain) {
		slog.InfoContext(ctx, "signed transaction of another chain", "publisherId", p.ID,
			"transactionId", req.TransactionID, "signedTransactionId", st.TransactionID,
			"signedOriginalTransactionId", st.OriginalTransactionID)
		return refuse(signedTxOtherChain)
	}
	return nil
}

// sameChain tells whether a signed transaction belongs to the purchase the
// request names: it is the requested transaction, or the requested
// transactionId is its chain's original one, or its chain is the one the
// directory knows the requested transaction to be part of.
func sameChain(st SignedTransaction, requested, chain string) bool {
	return st.TransactionID == requested ||
		st.OriginalTransactionID == requested ||
		(chain != "" && st.OriginalTransactionID == chain)
}
