package apple

// Notification types (ResponseBodyV2DecodedPayload.notificationType). A consumer switches on these;
// types it does not know must be acknowledged and ignored, since Apple adds new ones.
const (
	TypeConsumptionRequest     = "CONSUMPTION_REQUEST"
	TypeDidChangeRenewalPref   = "DID_CHANGE_RENEWAL_PREF"
	TypeDidChangeRenewalStatus = "DID_CHANGE_RENEWAL_STATUS"
	TypeDidFailToRenew         = "DID_FAIL_TO_RENEW"
	TypeDidRenew               = "DID_RENEW"
	TypeExpired                = "EXPIRED"
	TypeExternalPurchaseToken  = "EXTERNAL_PURCHASE_TOKEN"
	TypeGracePeriodExpired     = "GRACE_PERIOD_EXPIRED"
	TypeMetadataUpdate         = "METADATA_UPDATE"
	TypeMigration              = "MIGRATION"
	TypeOfferRedeemed          = "OFFER_REDEEMED"
	TypeOneTimeCharge          = "ONE_TIME_CHARGE"
	TypePriceChange            = "PRICE_CHANGE"
	TypePriceIncrease          = "PRICE_INCREASE"
	TypeRefund                 = "REFUND"
	TypeRefundDeclined         = "REFUND_DECLINED"
	TypeRefundReversed         = "REFUND_REVERSED"
	TypeRenewalExtended        = "RENEWAL_EXTENDED"
	TypeRenewalExtension       = "RENEWAL_EXTENSION"
	TypeRescindConsent         = "RESCIND_CONSENT"
	TypeRevoke                 = "REVOKE"
	TypeSubscribed             = "SUBSCRIBED"
	TypeTest                   = "TEST"
)

// Notification subtypes (ResponseBodyV2DecodedPayload.subtype). GRACE_PERIOD and UPGRADE are
// subtypes, not types: DID_FAIL_TO_RENEW/GRACE_PERIOD, DID_CHANGE_RENEWAL_PREF/UPGRADE.
const (
	SubtypeAccepted          = "ACCEPTED"
	SubtypeAutoRenewDisabled = "AUTO_RENEW_DISABLED"
	SubtypeAutoRenewEnabled  = "AUTO_RENEW_ENABLED"
	SubtypeBillingRecovery   = "BILLING_RECOVERY"
	SubtypeBillingRetry      = "BILLING_RETRY"
	SubtypeDowngrade         = "DOWNGRADE"
	SubtypeFailure           = "FAILURE"
	SubtypeGracePeriod       = "GRACE_PERIOD"
	SubtypeInitialBuy        = "INITIAL_BUY"
	SubtypePending           = "PENDING"
	SubtypePriceIncrease     = "PRICE_INCREASE"
	SubtypeProductNotForSale = "PRODUCT_NOT_FOR_SALE"
	SubtypeResubscribe       = "RESUBSCRIBE"
	SubtypeSummary           = "SUMMARY"
	SubtypeUnreported        = "UNREPORTED"
	SubtypeUpgrade           = "UPGRADE"
	SubtypeVoluntary         = "VOLUNTARY"
)

// Environments. Only Sandbox and Production are signed under Apple's root; Xcode and
// LocalTesting transactions are signed by Xcode and never verify with a default Verifier.
const (
	EnvironmentProduction   = "Production"
	EnvironmentSandbox      = "Sandbox"
	EnvironmentXcode        = "Xcode"
	EnvironmentLocalTesting = "LocalTesting"
)

// Subscription status (NotificationData.status).
const (
	StatusActive             int32 = 1
	StatusExpired            int32 = 2
	StatusBillingRetry       int32 = 3
	StatusBillingGracePeriod int32 = 4
	StatusRevoked            int32 = 5
)

// Transaction product types (TransactionInfo.type).
const (
	ProductAutoRenewable = "Auto-Renewable Subscription"
	ProductNonConsumable = "Non-Consumable"
	ProductConsumable    = "Consumable"
	ProductNonRenewing   = "Non-Renewing Subscription"
)

// Revocation reasons (TransactionInfo.revocationReason).
const (
	RevocationOther    int32 = 0
	RevocationAppIssue int32 = 1
)
