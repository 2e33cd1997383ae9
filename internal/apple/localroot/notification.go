package localroot

import "github.com/acme/purchase-transfer/internal/apple"

// SignNotification signs t and r (each when non-nil) as signedTransactionInfo and
// signedRenewalInfo, puts them in p.Data (created when nil) and signs p: the signedPayload of
// an App Store Server Notification V2. Dates and IDs are the caller's; nothing is defaulted, so
// a test sees exactly what it sent.
func SignNotification(a *Authority, p apple.NotificationPayload, t *apple.TransactionInfo, r *apple.RenewalInfo, opts ...SignOption) (string, error) {
	if t != nil || r != nil {
		d := apple.NotificationData{}
		if p.Data != nil {
			d = *p.Data
		}
		if t != nil {
			s, err := a.Sign(t)
			if err != nil {
				return "", err
			}
			d.SignedTransactionInfo = s
		}
		if r != nil {
			s, err := a.Sign(r)
			if err != nil {
				return "", err
			}
			d.SignedRenewalInfo = s
		}
		p.Data = &d
	}
	return a.Sign(p, opts...)
}

// SignedPayload is the body Apple POSTs to the notification URL: {"signedPayload": "<JWS>"}.
type SignedPayload struct {
	SignedPayload string `json:"signedPayload"`
}
