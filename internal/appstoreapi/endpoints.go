package appstoreapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/acme/purchase-transfer/internal/apple"
)

// The endpoints. Each returns what Apple signed only once it verified: a
// signed field that does not verify fails the whole call (wrapping
// apple.ErrUnverified or apple.ErrMalformed). Which app the data is for is
// the caller's check (apple.App), as for notifications.

// TransactionInfo is Get Transaction Info: the transaction transactionID.
func (c *Client) TransactionInfo(ctx context.Context, transactionID string) (apple.TransactionInfo, error) {
	const op = "Get Transaction Info"
	var r TransactionInfoResponse
	if err := c.call(ctx, op, http.MethodGet, "/inApps/v1/transactions/"+url.PathEscape(transactionID), nil, nil, &r); err != nil {
		return apple.TransactionInfo{}, err
	}
	t, err := c.verifier.VerifyTransaction(ctx, r.SignedTransactionInfo)
	if err != nil {
		return apple.TransactionInfo{}, fmt.Errorf("%s: %w", op, err)
	}
	return t, nil
}

// SubscriptionStatus is one chain of Get All Subscription Statuses, verified.
type SubscriptionStatus struct {
	GroupID               string
	OriginalTransactionID string
	Status                int32
	Transaction           apple.TransactionInfo
	Renewal               apple.RenewalInfo
}

// Statuses is Get All Subscription Statuses' answer, verified.
type Statuses struct {
	Environment   string
	BundleID      string
	AppAppleID    int64
	Subscriptions []SubscriptionStatus
}

// SubscriptionStatuses is Get All Subscription Statuses: every
// subscription of the customer who made transactionID.
func (c *Client) SubscriptionStatuses(ctx context.Context, transactionID string) (Statuses, error) {
	const op = "Get All Subscription Statuses"
	var r StatusResponse
	if err := c.call(ctx, op, http.MethodGet, "/inApps/v1/subscriptions/"+url.PathEscape(transactionID), nil, nil, &r); err != nil {
		return Statuses{}, err
	}
	out := Statuses{Environment: r.Environment, BundleID: r.BundleID, AppAppleID: r.AppAppleID}
	for _, g := range r.Data {
		for _, l := range g.LastTransactions {
			t, err := c.verifier.VerifyTransaction(ctx, l.SignedTransactionInfo)
			if err != nil {
				return Statuses{}, fmt.Errorf("%s: %w", op, err)
			}
			rn, err := c.verifier.VerifyRenewal(ctx, l.SignedRenewalInfo)
			if err != nil {
				return Statuses{}, fmt.Errorf("%s: %w", op, err)
			}
			// The unsigned originalTransactionId must be the signed one's.
			if t.OriginalTransactionID != l.OriginalTransactionID || rn.OriginalTransactionID != l.OriginalTransactionID {
				return Statuses{}, fmt.Errorf("%s: %w: lastTransactions names chain %s, its signed data another", op, apple.ErrUnverified, l.OriginalTransactionID)
			}
			out.Subscriptions = append(out.Subscriptions, SubscriptionStatus{GroupID: g.SubscriptionGroupIdentifier,
				OriginalTransactionID: l.OriginalTransactionID, Status: l.Status, Transaction: t, Renewal: rn})
		}
	}
	return out, nil
}

// History is one page of Get Transaction History, verified.
type History struct {
	Revision     string
	HasMore      bool
	Environment  string
	BundleID     string
	AppAppleID   int64
	Transactions []apple.TransactionInfo
}

// TransactionHistory is one page of Get Transaction History (v2) of the
// customer who made transactionID, oldest first; revision is "" for the
// first page, then the previous page's Revision.
func (c *Client) TransactionHistory(ctx context.Context, transactionID, revision string) (History, error) {
	const op = "Get Transaction History"
	q := url.Values{"sort": {"ASCENDING"}}
	if revision != "" {
		q.Set("revision", revision)
	}
	var r HistoryResponse
	if err := c.call(ctx, op, http.MethodGet, "/inApps/v2/history/"+url.PathEscape(transactionID), q, nil, &r); err != nil {
		return History{}, err
	}
	out := History{Revision: r.Revision, HasMore: r.HasMore, Environment: r.Environment, BundleID: r.BundleID, AppAppleID: r.AppAppleID}
	for _, s := range r.SignedTransactions {
		t, err := c.verifier.VerifyTransaction(ctx, s)
		if err != nil {
			return History{}, fmt.Errorf("%s: %w", op, err)
		}
		out.Transactions = append(out.Transactions, t)
	}
	return out, nil
}

// HistoricNotification is a notification of the history: its signedPayload
// as Apple signed it (what the notifications endpoint would have been
// posted), verified, and Apple's attempts to send it.
type HistoricNotification struct {
	SignedPayload string
	Notification  apple.Notification
	SendAttempts  []SendAttemptItem
}

// NotificationPage is one page of Get Notification History, verified.
type NotificationPage struct {
	PaginationToken string
	HasMore         bool
	Notifications   []HistoricNotification
}

// NotificationHistory is one page of Get Notification History;
// paginationToken is "" for the first page, then the previous page's.
func (c *Client) NotificationHistory(ctx context.Context, req NotificationHistoryRequest, paginationToken string) (NotificationPage, error) {
	const op = "Get Notification History"
	var q url.Values
	if paginationToken != "" {
		q = url.Values{"paginationToken": {paginationToken}}
	}
	var r NotificationHistoryResponse
	if err := c.call(ctx, op, http.MethodPost, "/inApps/v1/notifications/history", q, req, &r); err != nil {
		return NotificationPage{}, err
	}
	out := NotificationPage{PaginationToken: r.PaginationToken, HasMore: r.HasMore}
	for _, h := range r.NotificationHistory {
		n, err := c.verifier.VerifyNotification(ctx, h.SignedPayload)
		if err != nil {
			return NotificationPage{}, fmt.Errorf("%s: %w", op, err)
		}
		out.Notifications = append(out.Notifications, HistoricNotification{SignedPayload: h.SignedPayload, Notification: n, SendAttempts: h.SendAttempts})
	}
	return out, nil
}

// RequestTestNotification is Request a Test Notification: Apple sends a
// TEST notification to the app's notification URL. It returns the token
// TestNotificationStatus takes.
func (c *Client) RequestTestNotification(ctx context.Context) (string, error) {
	var r SendTestNotificationResponse
	if err := c.call(ctx, "Request a Test Notification", http.MethodPost, "/inApps/v1/notifications/test", nil, nil, &r); err != nil {
		return "", err
	}
	return r.TestNotificationToken, nil
}

// TestNotificationStatus is Get Test Notification Status, verified.
type TestNotificationStatus struct {
	Notification apple.Notification
	SendAttempts []SendAttemptItem
}

// Delivered tells whether an attempt to send it succeeded.
func (s TestNotificationStatus) Delivered() bool {
	for _, a := range s.SendAttempts {
		if a.SendAttemptResult == SendAttemptSuccess {
			return true
		}
	}
	return false
}

// TestNotificationStatus is Get Test Notification Status of a token of
// RequestTestNotification.
func (c *Client) TestNotificationStatus(ctx context.Context, token string) (TestNotificationStatus, error) {
	const op = "Get Test Notification Status"
	var r CheckTestNotificationResponse
	if err := c.call(ctx, op, http.MethodGet, "/inApps/v1/notifications/test/"+url.PathEscape(token), nil, nil, &r); err != nil {
		return TestNotificationStatus{}, err
	}
	n, err := c.verifier.VerifyNotification(ctx, r.SignedPayload)
	if err != nil {
		return TestNotificationStatus{}, fmt.Errorf("%s: %w", op, err)
	}
	return TestNotificationStatus{Notification: n, SendAttempts: r.SendAttempts}, nil
}
