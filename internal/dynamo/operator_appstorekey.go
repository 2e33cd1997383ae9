package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// A publisher's App Store Connect key (appstoreapi.KeyStore), as `transferctl
// publisher apple set --issuer --key-id --private-key-file` stores it.

// appStoreKeyItem holds the private key sealed, never in clear.
type appStoreKeyItem struct {
	key
	PublisherID int64     `dynamodbav:"publisherId"`
	IssuerID    string    `dynamodbav:"issuerId"`
	KeyID       string    `dynamodbav:"keyId"`
	Sealed      []byte    `dynamodbav:"sealedKey"`
	SetAt       time.Time `dynamodbav:"setAt"`
}

// PutAppStoreKey replaces the publisher's key, in one transaction with a
// check that the publisher exists; operator.ErrPublisherNotFound otherwise.
func (s *OperatorStore) PutAppStoreKey(ctx context.Context, id transfer.PublisherID, k appstoreapi.SealedKey) error {
	exists, err := s.check(publisherKey(id), expression.AttributeExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	av, err := attributevalue.MarshalMap(appStoreKeyItem{key: appStoreKeyKey(id), PublisherID: int64(id),
		IssuerID: k.IssuerID, KeyID: k.KeyID, Sealed: k.Sealed, SetAt: k.SetAt})
	if err != nil {
		return fmt.Errorf("encode App Store Connect key: %w", err)
	}
	put := types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: av}}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{exists, put})
	if failedCheck(reasons, 0) {
		return operator.ErrPublisherNotFound
	}
	if err != nil {
		return fmt.Errorf("put App Store Connect key: %w", err)
	}
	return nil
}

// AppStoreKey reads the publisher's key; nil when none is set.
func (s *OperatorStore) AppStoreKey(ctx context.Context, id transfer.PublisherID) (*appstoreapi.SealedKey, error) {
	var it appStoreKeyItem
	found, err := s.getItem(ctx, appStoreKeyKey(id), &it)
	if err != nil || !found {
		return nil, err
	}
	return &appstoreapi.SealedKey{IssuerID: it.IssuerID, KeyID: it.KeyID, Sealed: it.Sealed, SetAt: it.SetAt}, nil
}
