package apple

import (
	"errors"
	"fmt"
	"slices"
)

// ErrWrongApp: a verified notification or transaction is Apple's but not for this app. Apple
// signs every app's data under the same root, so a valid signature alone proves nothing about
// whose purchase it is.
var ErrWrongApp = errors.New("apple: not for this app")

// App identifies the app whose notifications and transactions are accepted.
type App struct {
	BundleID string
	// AppAppleID is the app's Apple ID. Apple includes it in Production notifications only, so
	// it is required to match there and checked in Sandbox only when Apple sends one.
	AppAppleID int64
	// Environments lists the accepted environments (EnvironmentProduction, EnvironmentSandbox).
	// Empty means Production only, so a forgotten setting cannot let sandbox purchases, which
	// cost nothing, grant real entitlements.
	Environments []string
}

func (a App) accepts(env string) bool {
	if len(a.Environments) == 0 {
		return env == EnvironmentProduction
	}
	return slices.Contains(a.Environments, env)
}

// Check reports, wrapping ErrWrongApp and naming the field, whether n is for another app or
// environment. It checks the notification's data (or summary) and the nested transaction and
// renewal info, which must agree with it.
func (a App) Check(n Notification) error {
	var where, bundleID, env string
	var appAppleID int64
	switch p := n.Payload; {
	case p.Data != nil:
		where, bundleID, env, appAppleID = "data", p.Data.BundleID, p.Data.Environment, p.Data.AppAppleID
	case p.Summary != nil:
		where, bundleID, env, appAppleID = "summary", p.Summary.BundleID, p.Summary.Environment, p.Summary.AppAppleID
	default:
		return fmt.Errorf("%w: notification has neither data nor summary", ErrWrongApp)
	}
	if err := a.checkBundleEnv(where, bundleID, env); err != nil {
		return err
	}
	if err := a.checkAppAppleID(where, env, appAppleID); err != nil {
		return err
	}
	if t := n.Transaction; t != nil {
		if err := a.CheckTransaction(*t); err != nil {
			return err
		}
		if t.Environment != env {
			return fmt.Errorf("%w: signedTransactionInfo.environment %q differs from %s's %q", ErrWrongApp, t.Environment, where, env)
		}
	}
	if r := n.Renewal; r != nil {
		if r.Environment != env {
			return fmt.Errorf("%w: signedRenewalInfo.environment %q differs from %s's %q", ErrWrongApp, r.Environment, where, env)
		}
		if t := n.Transaction; t != nil && r.OriginalTransactionID != t.OriginalTransactionID {
			return fmt.Errorf("%w: signedRenewalInfo.originalTransactionId differs from the transaction's", ErrWrongApp)
		}
	}
	return nil
}

// CheckTransaction reports, wrapping ErrWrongApp, whether t is for another app or environment.
// A transaction carries no appAppleId, so only bundleId and environment are checked.
func (a App) CheckTransaction(t TransactionInfo) error {
	return a.checkBundleEnv("transaction", t.BundleID, t.Environment)
}

func (a App) checkBundleEnv(where, bundleID, env string) error {
	if bundleID != a.BundleID {
		return fmt.Errorf("%w: %s.bundleId %q is not %q", ErrWrongApp, where, bundleID, a.BundleID)
	}
	if !a.accepts(env) {
		return fmt.Errorf("%w: %s.environment %q is not accepted", ErrWrongApp, where, env)
	}
	return nil
}

func (a App) checkAppAppleID(where, env string, appAppleID int64) error {
	mismatch := appAppleID != a.AppAppleID
	if env != EnvironmentProduction {
		// Sandbox notifications may omit it; one that names another app is still refused.
		mismatch = mismatch && appAppleID != 0 && a.AppAppleID != 0
	}
	if mismatch {
		return fmt.Errorf("%w: %s.appAppleId %d is not %d", ErrWrongApp, where, appAppleID, a.AppAppleID)
	}
	return nil
}
