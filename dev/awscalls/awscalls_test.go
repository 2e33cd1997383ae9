package awscalls_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/dev/awscalls"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		target, body string
		want         []awscalls.Call
	}{
		{"DynamoDB_20120810.GetItem", `{"TableName":"t","Key":{}}`, []awscalls.Call{{"dynamodb:GetItem", "t"}}},
		{"DynamoDB_20120810.Query", `{"TableName":"t","IndexName":"openSyncs"}`, []awscalls.Call{{"dynamodb:Query", "t/index/openSyncs"}}},
		{"DynamoDB_20120810.BatchGetItem", `{"RequestItems":{"t":{"Keys":[]}}}`, []awscalls.Call{{"dynamodb:BatchGetItem", "t"}}},
		{"DynamoDB_20120810.TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"t"}},{"ConditionCheck":{"TableName":"t"}},{"Delete":{"TableName":"u"}},{"Update":{"TableName":"t"}}]}`,
			[]awscalls.Call{{"dynamodb:ConditionCheckItem", "t"}, {"dynamodb:DeleteItem", "u"}, {"dynamodb:PutItem", "t"}, {"dynamodb:UpdateItem", "t"}}},
		{"AmazonSQS.SendMessageBatch", `{"QueueUrl":"http://q/1/a","Entries":[]}`, []awscalls.Call{{"sqs:SendMessage", "http://q/1/a"}}},
		{"AmazonSQS.ChangeMessageVisibility", `{"QueueUrl":"http://q/1/a"}`, []awscalls.Call{{"sqs:ChangeMessageVisibility", "http://q/1/a"}}},
		{"secretsmanager.GetSecretValue", `{"SecretId":"jwt"}`, []awscalls.Call{{"secretsmanager:GetSecretValue", "jwt"}}},
	}
	for _, tc := range tests {
		got, err := awscalls.Parse(tc.target, []byte(tc.body))
		if err != nil {
			t.Errorf("%s: %v", tc.target, err)
			continue
		}
		slices.SortFunc(got, func(a, b awscalls.Call) int { return strings.Compare(a.String(), b.String()) })
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.target, got, tc.want)
		}
	}
	for _, bad := range [][2]string{{"", "{}"}, {"DynamoDB_20120810.GetItem", "{}"}, {"AmazonSQS.SendMessage", "{}"}, {"DynamoDB_20120810.GetItem", "not json"}, {"foo.Bar", "{}"}} {
		if got, err := awscalls.Parse(bad[0], []byte(bad[1])); err == nil {
			t.Errorf("Parse(%q, %q) = %v, want an error", bad[0], bad[1], got)
		}
	}
}
