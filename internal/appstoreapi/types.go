package appstoreapi

// The structs below mirror the App Store Server API's wire JSON field for
// field (Apple's names in the json tags), so that a fixture round-trips and a
// field Apple adds is ignored. Dates are milliseconds since the Unix epoch.
// Signed fields stay strings here; the client verifies them before it returns
// anything decoded from them.

// TransactionInfoResponse is Get Transaction Info's answer.
type TransactionInfoResponse struct {
	SignedTransactionInfo string `json:"signedTransactionInfo"`
}

// StatusResponse is Get All Subscription Statuses' answer.
type StatusResponse struct {
	Environment string                            `json:"environment"`
	BundleID    string                            `json:"bundleId"`
	AppAppleID  int64                             `json:"appAppleId,omitempty"`
	Data        []SubscriptionGroupIdentifierItem `json:"data"`
}

// SubscriptionGroupIdentifierItem is one subscription group's statuses.
type SubscriptionGroupIdentifierItem struct {
	SubscriptionGroupIdentifier string                 `json:"subscriptionGroupIdentifier"`
	LastTransactions            []LastTransactionsItem `json:"lastTransactions"`
}

// LastTransactionsItem is the latest transaction and renewal of one chain.
type LastTransactionsItem struct {
	OriginalTransactionID string `json:"originalTransactionId"`
	// Status: 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked.
	Status                int32  `json:"status"`
	SignedTransactionInfo string `json:"signedTransactionInfo"`
	SignedRenewalInfo     string `json:"signedRenewalInfo"`
}

// HistoryResponse is Get Transaction History's (v2) answer.
type HistoryResponse struct {
	Revision           string   `json:"revision"`
	HasMore            bool     `json:"hasMore"`
	BundleID           string   `json:"bundleId"`
	AppAppleID         int64    `json:"appAppleId,omitempty"`
	Environment        string   `json:"environment"`
	SignedTransactions []string `json:"signedTransactions"`
}

// NotificationHistoryRequest is Get Notification History's body. Give
// either TransactionID or NotificationType, not both.
type NotificationHistoryRequest struct {
	StartDate           int64  `json:"startDate"`
	EndDate             int64  `json:"endDate"`
	NotificationType    string `json:"notificationType,omitempty"`
	NotificationSubtype string `json:"notificationSubtype,omitempty"`
	TransactionID       string `json:"transactionId,omitempty"`
	OnlyFailures        bool   `json:"onlyFailures,omitempty"`
}

// NotificationHistoryResponse is one page of Get Notification History.
type NotificationHistoryResponse struct {
	PaginationToken     string                            `json:"paginationToken,omitempty"`
	HasMore             bool                              `json:"hasMore"`
	NotificationHistory []NotificationHistoryResponseItem `json:"notificationHistory"`
}

// NotificationHistoryResponseItem is one notification Apple tried to send.
type NotificationHistoryResponseItem struct {
	SignedPayload string            `json:"signedPayload"`
	SendAttempts  []SendAttemptItem `json:"sendAttempts,omitempty"`
}

// SendAttemptItem is one attempt to send a notification.
type SendAttemptItem struct {
	AttemptDate int64 `json:"attemptDate"`
	// SendAttemptResult is SUCCESS, TIMED_OUT, NO_RESPONSE, ... (Apple's list).
	SendAttemptResult string `json:"sendAttemptResult"`
}

// SendAttemptSuccess is the result of a delivered notification.
const SendAttemptSuccess = "SUCCESS"

// SendTestNotificationResponse is Request a Test Notification's answer.
type SendTestNotificationResponse struct {
	TestNotificationToken string `json:"testNotificationToken"`
}

// CheckTestNotificationResponse is Get Test Notification Status' answer.
type CheckTestNotificationResponse struct {
	SignedPayload string            `json:"signedPayload"`
	SendAttempts  []SendAttemptItem `json:"sendAttempts,omitempty"`
}

// ErrorResponse is the body of an error answer.
type ErrorResponse struct {
	ErrorCode    int64  `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}
