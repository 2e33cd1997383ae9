package bench

import (
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// The floor of the latency budget: the I/O a transfer cannot avoid, written
// by hand with no adapter in between. FloorTransaction has the shape of the
// transfer's TransactWriteItems when the chain is known (the common case):
// the synchronization record put if absent, the transaction and chain locks
// put if absent or expired, the target customer checked, and the customer's
// and publisher's unfinished counts added to under their bounds, with items
// of the same attributes and sizes.

// FloorTransaction is the raw transaction for one request; id makes its keys
// fresh. customerPK/customerSK name an existing item for the condition check.
func FloorTransaction(table, id, customerPK, customerSK string, now time.Time) *dynamodb.TransactWriteItemsInput {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	stamp := now.UTC().Format(time.RFC3339Nano)
	lease := now.Add(15 * time.Minute)
	prefix := "PUB#100000001#FLOOR#" + id
	record := map[string]types.AttributeValue{
		"pk": s(prefix + "#SYNC"), "sk": s("SYNC"),
		"publisherId": n(100000001), "synchronizationId": s(id),
		"requestHash":   s("4f1c2d0e9b8a7f6e5d4c3b2a19080706f5e4d3c2b1a09f8e7d6c5b4a39281706"),
		"transactionId": s("tx-" + id), "originalTransactionId": s("otx-" + id),
		"targetCustomerId": n(900000002), "ipAddress": s("203.0.113.7"), "status": s("processing"),
		"createdAt": s(stamp), "updatedAt": s(stamp),
		"openShard": s("OPEN#7"), "openSince": n(now.UnixMilli()), "ttl": n(now.Add(30 * 24 * time.Hour).Unix()),
	}
	lock := func(pk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"pk": s(pk), "sk": s("LOCK"), "synchronizationId": s(id),
			"leaseUntil": n(lease.UnixMilli()), "ttl": n(lease.Add(24 * time.Hour).Unix()),
		}
	}
	absent := "attribute_not_exists(#pk)"
	free := "attribute_not_exists(#pk) OR #lease < :now"
	names := map[string]string{"#pk": "pk"}
	lockNames := map[string]string{"#pk": "pk", "#lease": "leaseUntil"}
	nowValue := map[string]types.AttributeValue{":now": n(now.UnixMilli())}
	put := func(item map[string]types.AttributeValue, cond string, names map[string]string, values map[string]types.AttributeValue) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{
			TableName: &table, Item: item, ConditionExpression: &cond,
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}
	}
	exists := "attribute_exists(#pk)"
	count := func(pk string, bound int64) types.TransactWriteItem {
		upd, cond := "ADD #u :one", "attribute_not_exists(#u) OR #u < :bound"
		return types.TransactWriteItem{Update: &types.Update{
			TableName: &table, UpdateExpression: &upd, ConditionExpression: &cond,
			Key:                       map[string]types.AttributeValue{"pk": s(pk), "sk": s("UNFINISHED")},
			ExpressionAttributeNames:  map[string]string{"#u": "unfinished"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":bound": n(bound)},
		}}
	}
	return &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		put(record, absent, names, nil),
		put(lock(prefix+"#TX"), free, lockNames, nowValue),
		put(lock(prefix+"#PURCHASE"), free, lockNames, nowValue),
		{ConditionCheck: &types.ConditionCheck{
			TableName: &table, ConditionExpression: &exists, ExpressionAttributeNames: names,
			Key: map[string]types.AttributeValue{"pk": s(customerPK), "sk": s(customerSK)},
		}},
		// Fresh counters: the floor measures the I/O, not conflicts.
		count(prefix+"#CUSTOMER", 10),
		count(prefix+"#UNFINISHED", 625),
	}}
}

// FloorMessage is the raw SendMessage of one request, its body the size of a job.
func FloorMessage(queueURL, id string) *sqs.SendMessageInput {
	body := `{"publisherId":100000001,"synchronizationId":"` + id +
		`","transactionId":"tx-` + id + `","originalTransactionId":"otx-` + id + `"}`
	return &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: &body}
}
