package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// NewClient is the DynamoDB client of cfg; a non-empty endpoint replaces
// AWS's (DynamoDB Local).
func NewClient(cfg aws.Config, endpoint string) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = &endpoint
			// DynamoDB Local does not send the CRC32 the SDK checks; AWS does.
			o.DisableValidateResponseChecksum = true
		}
	})
}
