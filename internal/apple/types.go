package apple

// The structs below mirror Apple's wire JSON field for field, so that decoding needs no mapping
// layer and a new field Apple adds is simply ignored. Dates are milliseconds since the Unix epoch,
// as Apple sends them; zero means absent. Fields whose zero value is meaningful are pointers.
// The omitempty tags let internal/apple/localroot marshal the same structs into Apple-shaped payloads.

// NotificationPayload is ResponseBodyV2DecodedPayload, the payload of a notification's signedPayload.
type NotificationPayload struct {
	NotificationType string            `json:"notificationType"`
	Subtype          string            `json:"subtype,omitempty"`
	NotificationUUID string            `json:"notificationUUID"`
	Version          string            `json:"version,omitempty"`
	SignedDate       int64             `json:"signedDate"`
	Data             *NotificationData `json:"data,omitempty"`
	// Summary is sent instead of Data for RENEWAL_EXTENSION/SUMMARY.
	Summary *NotificationSummary `json:"summary,omitempty"`
}

// NotificationData is the data object of a notification: the app and the still-signed
// transaction and renewal info.
type NotificationData struct {
	AppAppleID            int64  `json:"appAppleId,omitempty"`
	BundleID              string `json:"bundleId"`
	BundleVersion         string `json:"bundleVersion,omitempty"`
	Environment           string `json:"environment"`
	SignedTransactionInfo string `json:"signedTransactionInfo,omitempty"`
	SignedRenewalInfo     string `json:"signedRenewalInfo,omitempty"`
	Status                int32  `json:"status,omitempty"`
}

// NotificationSummary is the summary object of a RENEWAL_EXTENSION/SUMMARY notification (the
// outcome of a mass renewal-date extension); it carries no signed data.
type NotificationSummary struct {
	RequestIdentifier      string   `json:"requestIdentifier,omitempty"`
	Environment            string   `json:"environment"`
	AppAppleID             int64    `json:"appAppleId,omitempty"`
	BundleID               string   `json:"bundleId"`
	ProductID              string   `json:"productId,omitempty"`
	StorefrontCountryCodes []string `json:"storefrontCountryCodes,omitempty"`
	FailedCount            int64    `json:"failedCount,omitempty"`
	SucceededCount         int64    `json:"succeededCount,omitempty"`
}

// TransactionInfo is JWSTransactionDecodedPayload.
type TransactionInfo struct {
	TransactionID               string `json:"transactionId"`
	OriginalTransactionID       string `json:"originalTransactionId"`
	WebOrderLineItemID          string `json:"webOrderLineItemId,omitempty"`
	BundleID                    string `json:"bundleId"`
	ProductID                   string `json:"productId"`
	SubscriptionGroupIdentifier string `json:"subscriptionGroupIdentifier,omitempty"`
	PurchaseDate                int64  `json:"purchaseDate,omitempty"`
	OriginalPurchaseDate        int64  `json:"originalPurchaseDate,omitempty"`
	ExpiresDate                 int64  `json:"expiresDate,omitempty"`
	Quantity                    int32  `json:"quantity,omitempty"`
	Type                        string `json:"type,omitempty"`
	InAppOwnershipType          string `json:"inAppOwnershipType,omitempty"`
	SignedDate                  int64  `json:"signedDate"`
	// RevocationReason is a pointer because 0 ("other") is a real reason.
	RevocationReason  *int32 `json:"revocationReason,omitempty"`
	RevocationDate    int64  `json:"revocationDate,omitempty"`
	IsUpgraded        bool   `json:"isUpgraded,omitempty"`
	OfferType         int32  `json:"offerType,omitempty"`
	OfferIdentifier   string `json:"offerIdentifier,omitempty"`
	Environment       string `json:"environment"`
	TransactionReason string `json:"transactionReason,omitempty"`
	Storefront        string `json:"storefront,omitempty"`
	AppAccountToken   string `json:"appAccountToken,omitempty"`
}

// RenewalInfo is JWSRenewalInfoDecodedPayload.
type RenewalInfo struct {
	OriginalTransactionID string `json:"originalTransactionId"`
	AutoRenewProductID    string `json:"autoRenewProductId,omitempty"`
	ProductID             string `json:"productId,omitempty"`
	// AutoRenewStatus is 1 when the subscription renews, 0 when the customer turned it off.
	AutoRenewStatus        int32 `json:"autoRenewStatus"`
	ExpirationIntent       int32 `json:"expirationIntent,omitempty"`
	GracePeriodExpiresDate int64 `json:"gracePeriodExpiresDate,omitempty"`
	// IsInBillingRetryPeriod is a pointer: Apple omits it when no renewal was attempted.
	IsInBillingRetryPeriod      *bool  `json:"isInBillingRetryPeriod,omitempty"`
	OfferType                   int32  `json:"offerType,omitempty"`
	OfferIdentifier             string `json:"offerIdentifier,omitempty"`
	SignedDate                  int64  `json:"signedDate"`
	Environment                 string `json:"environment"`
	RecentSubscriptionStartDate int64  `json:"recentSubscriptionStartDate,omitempty"`
	RenewalDate                 int64  `json:"renewalDate,omitempty"`
}

// Notification is a verified notification: its payload and, when Apple sent them, the verified
// and decoded transaction and renewal info (nil for TEST, summaries and one-time purchases'
// renewal).
type Notification struct {
	Payload     NotificationPayload
	Transaction *TransactionInfo
	Renewal     *RenewalInfo
}
