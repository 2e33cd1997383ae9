package httpapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// SignedTransactions adapts an *apple.Verifier to the transfer domain's
// transfer.SignedTransactionVerifier: the device's signedTransactionInfo is
// verified like a notification's (ES256, x5c chain to the verifier's root at
// signedDate, Apple's marker OIDs), then checked against the publisher's app
// (bundleId and environment, apple.App.CheckTransaction).
type SignedTransactions struct {
	Verifier *apple.Verifier
}

// VerifySignedTransaction implements transfer.SignedTransactionVerifier.
func (s SignedTransactions) VerifySignedTransaction(ctx context.Context, jws string, app transfer.AppleApp) (transfer.SignedTransaction, error) {
	t, err := s.Verifier.VerifyTransaction(ctx, jws)
	if err != nil {
		return transfer.SignedTransaction{}, err
	}
	check := apple.App{BundleID: app.BundleID, AppAppleID: app.AppAppleID, Environments: app.Environments}
	if err := check.CheckTransaction(t); err != nil {
		if errors.Is(err, apple.ErrWrongApp) {
			return transfer.SignedTransaction{}, fmt.Errorf("%w: %w", transfer.ErrSignedTransactionOtherApp, err)
		}
		return transfer.SignedTransaction{}, err
	}
	return transfer.SignedTransaction{TransactionID: t.TransactionID, OriginalTransactionID: t.OriginalTransactionID}, nil
}
