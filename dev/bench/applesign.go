package bench

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// The Apple side of the bench (docs/design.md B7): what its DID_RENEW
// notifications say, signed under the local test root as `make run` and the
// integration tests sign them, and the latency floor of the endpoint — the
// read and the transaction it makes, written by hand.

// The bench publisher's App Store app.
const (
	AppleBundleID   = "com.example.bench"
	AppleAppAppleID = 1234567890
	AppleProductID  = "com.example.premium.monthly"
	AppleOfferID    = "S123456789_US"
)

// AppleApp is the bench publisher's app: Production only, as deployed.
func AppleApp() *transfer.AppleApp {
	return &transfer.AppleApp{
		BundleID: AppleBundleID, AppAppleID: AppleAppAppleID,
		Environments: []string{transfer.EnvironmentProduction},
		Offers:       map[string]string{AppleProductID: AppleOfferID},
	}
}

// Renewal is one DID_RENEW: Apple saying that the chain OriginalTransactionID
// renewed as the new transaction TransactionID.
type Renewal struct {
	NotificationUUID      string
	OriginalTransactionID string
	TransactionID         string
	SignedAt              time.Time
	ExpiresAt             time.Time
}

// RenewalOf is the renewal of a seeded purchase whose only transactionId is
// tx ("3…", chain "otx-" + tx): its new transactionId is tx with a leading 4,
// which no seeded purchase has, and uuid names the notification.
func RenewalOf(tx, uuid string, now time.Time) Renewal {
	return Renewal{
		NotificationUUID:      uuid,
		OriginalTransactionID: "otx-" + tx,
		TransactionID:         "4" + strings.TrimPrefix(tx, "3"),
		SignedAt:              now,
		ExpiresAt:             now.AddDate(0, 1, 0),
	}
}

// SignRenewal is the body Apple POSTs for r: {"signedPayload": "<JWS>"}, the
// signed transaction and renewal info nested, each with the chain of a.
func SignRenewal(a *localroot.Authority, r Renewal) ([]byte, error) {
	signed := r.SignedAt.UnixMilli()
	p := apple.NotificationPayload{
		NotificationType: apple.TypeDidRenew, NotificationUUID: r.NotificationUUID, Version: "2.0", SignedDate: signed,
		Data: &apple.NotificationData{AppAppleID: AppleAppAppleID, BundleID: AppleBundleID, Environment: apple.EnvironmentProduction, Status: 1},
	}
	t := &apple.TransactionInfo{
		TransactionID: r.TransactionID, OriginalTransactionID: r.OriginalTransactionID, BundleID: AppleBundleID,
		ProductID: AppleProductID, Type: apple.ProductAutoRenewable, PurchaseDate: signed, SignedDate: signed,
		ExpiresDate: r.ExpiresAt.UnixMilli(), Environment: apple.EnvironmentProduction, InAppOwnershipType: "PURCHASED",
	}
	ren := &apple.RenewalInfo{
		OriginalTransactionID: r.OriginalTransactionID, AutoRenewProductID: AppleProductID, ProductID: AppleProductID,
		AutoRenewStatus: 1, SignedDate: signed, Environment: apple.EnvironmentProduction, RenewalDate: r.ExpiresAt.UnixMilli(),
	}
	jws, err := localroot.SignNotification(a, p, t, ren)
	if err != nil {
		return nil, err
	}
	return json.Marshal(localroot.SignedPayload{SignedPayload: jws})
}

// purchasePK is the partition key of a chain's purchase item
// (docs/data-model.md).
func purchasePK(publisher transfer.PublisherID, otx string) string {
	return "PUB#" + strconv.FormatInt(int64(publisher), 10) + "#PURCHASE#" + otx
}

// AppleFloorRead is the endpoint's read of the chain a notification names:
// one strongly consistent GetItem of the purchase item.
func AppleFloorRead(table string, publisher transfer.PublisherID, otx string) *dynamodb.GetItemInput {
	return &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: purchasePK(publisher, otx)},
		"sk": &types.AttributeValueMemberS{Value: "PURCHASE"},
	}}
}

// AppleFloorTransaction is the endpoint's one write for r, given the purchase
// item as read: the notification record put if its UUID is new, the purchase
// put back renewed (the new transactionId in the chain, the expiry moved, the
// version bumped) if its version is still the one read, and the new
// transactionId's mapping put if absent or already this chain's — the items,
// keys and conditions of the service's, built without its adapters.
func AppleFloorTransaction(table string, purchase map[string]types.AttributeValue, r Renewal, now time.Time) *dynamodb.TransactWriteItemsInput {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	stamp := func(t time.Time) types.AttributeValue { return s(t.UTC().Format(time.RFC3339Nano)) }
	publisher := "0"
	if v, ok := purchase["publisherId"].(*types.AttributeValueMemberN); ok {
		publisher = v.Value
	}
	pub := "PUB#" + publisher
	record := map[string]types.AttributeValue{
		"pk": s(pub + "#APPLE#" + r.NotificationUUID), "sk": s("NOTIFICATION"),
		"publisherId": purchase["publisherId"], "notificationUUID": s(r.NotificationUUID),
		"notificationType": s(apple.TypeDidRenew), "environment": s(apple.EnvironmentProduction),
		"signedDate": n(r.SignedAt.UnixMilli()), "transactionId": s(r.TransactionID),
		"originalTransactionId": s(r.OriginalTransactionID), "outcome": s("applied"),
		"receivedAt": stamp(now), "ttl": n(now.Add(190 * 24 * time.Hour).Unix()),
	}
	renewed := make(map[string]types.AttributeValue, len(purchase)+2)
	for k, v := range purchase {
		renewed[k] = v
	}
	version := "0"
	if v, ok := purchase["version"].(*types.AttributeValueMemberN); ok {
		version = v.Value
	}
	next, _ := strconv.ParseInt(version, 10, 64)
	var chain []types.AttributeValue
	if l, ok := purchase["transactionIds"].(*types.AttributeValueMemberL); ok {
		chain = append(chain, l.Value...)
	}
	renewed["transactionIds"] = &types.AttributeValueMemberL{Value: append(chain, s(r.TransactionID))}
	renewed["state"] = s(string(transfer.StateActive))
	renewed["expiresAt"] = stamp(r.ExpiresAt)
	renewed["appleSignedAt"] = n(r.SignedAt.UnixMilli())
	renewed["version"] = n(next + 1)
	renewed["updatedAt"] = stamp(now)
	mapping := map[string]types.AttributeValue{
		"pk": s(pub + "#TX#" + r.TransactionID), "sk": s("TX"), "originalTransactionId": s(r.OriginalTransactionID),
	}
	put := func(item map[string]types.AttributeValue, cond string, names map[string]string, values map[string]types.AttributeValue) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{
			TableName: &table, Item: item, ConditionExpression: &cond,
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}
	}
	return &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		put(record, "attribute_not_exists(#pk)", map[string]string{"#pk": "pk"}, nil),
		put(renewed, "#v = :v", map[string]string{"#v": "version"}, map[string]types.AttributeValue{":v": n(next)}),
		put(mapping, "attribute_not_exists(#pk) OR #o = :o", map[string]string{"#pk": "pk", "#o": "originalTransactionId"},
			map[string]types.AttributeValue{":o": s(r.OriginalTransactionID)}),
	}}
}
