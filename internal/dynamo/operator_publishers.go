package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Publishers and their tokens, as transferctl manages them (OperatorStore).

// CreatePublisher stores a new publisher together with its first token, or
// fails with operator.ErrPublisherExists.
func (s *OperatorStore) CreatePublisher(ctx context.Context, p transfer.Publisher, first operator.NewToken) error {
	now := s.now().UTC()
	pub, err := s.put(publisherItem{
		key:                      publisherKey(p.ID),
		PublisherID:              int64(p.ID),
		Name:                     p.Name,
		StoreKit2Active:          p.StoreKit2Active,
		MigrationInProgress:      p.MigrationInProgress,
		RequireSignedTransaction: p.RequireSignedTransaction,
		VerifyWithApple:          p.VerifyWithApple,
		Apple:                    newAppleAppItem(p.Apple),
		CreatedAt:                now,
	}, expression.AttributeNotExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	tok, err := s.newToken(p.ID, first, now)
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{pub, tok})
	if failedCheck(reasons, 0) {
		return operator.ErrPublisherExists
	}
	return err
}

// UpdatePublisher changes the given settings of an existing publisher.
func (s *OperatorStore) UpdatePublisher(ctx context.Context, id transfer.PublisherID, c operator.PublisherChange) error {
	var upd expression.UpdateBuilder
	if c.Name != nil {
		upd = upd.Set(expression.Name("name"), expression.Value(*c.Name))
	}
	if c.StoreKit2Active != nil {
		upd = upd.Set(expression.Name("storeKit2Active"), expression.Value(*c.StoreKit2Active))
	}
	if c.MigrationInProgress != nil {
		upd = upd.Set(expression.Name("migrationInProgress"), expression.Value(*c.MigrationInProgress))
	}
	e, err := expression.NewBuilder().WithUpdate(upd).
		WithCondition(expression.AttributeExists(expression.Name(attrPK))).Build()
	if err != nil {
		return fmt.Errorf("build expression: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       publisherKey(id).av(),
		UpdateExpression:          e.Update(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return operator.ErrPublisherNotFound
	}
	if err != nil {
		return fmt.Errorf("update publisher: %w", err)
	}
	return nil
}

// PublisherInfo reads a publisher; nil when unknown.
func (s *OperatorStore) PublisherInfo(ctx context.Context, id transfer.PublisherID) (*operator.PublisherInfo, error) {
	var item publisherItem
	ok, err := s.getItem(ctx, publisherKey(id), &item)
	if err != nil || !ok {
		return nil, err
	}
	info := item.info()
	return &info, nil
}

// Publishers lists every publisher. There is no index of publishers (no
// request path needs one), so this scans the table for publisher items: an
// operator's occasional read, paid in read capacity proportional to the table.
// Scan is not part of API, which is what the request path uses; the real
// client has it.
func (s *OperatorStore) Publishers(ctx context.Context) ([]operator.PublisherInfo, error) {
	items, err := s.scanPublishers(ctx, expression.Name(attrSK).Equal(expression.Value(skPublisher)))
	if err != nil {
		return nil, err
	}
	out := make([]operator.PublisherInfo, 0, len(items))
	for _, it := range items {
		out = append(out, it.info())
	}
	return out, nil
}

// ApplePublishers lists the publishers that have an Apple app, for the
// scheduled backfill (appstore.PublisherLister). Like Publishers it scans the
// table, as no index of publishers exists: once per scheduled run (hourly,
// say), its read capacity is that of the table's size, which an hourly job
// can afford; the filter drops every other item before the answer, not
// before the read.
func (s *OperatorStore) ApplePublishers(ctx context.Context) ([]transfer.Publisher, error) {
	items, err := s.scanPublishers(ctx, expression.Name(attrSK).Equal(expression.Value(skPublisher)).
		And(expression.AttributeExists(expression.Name("apple"))))
	if err != nil {
		return nil, err
	}
	out := make([]transfer.Publisher, 0, len(items))
	for _, it := range items {
		if p := it.publisher(); p.Apple != nil {
			out = append(out, *p)
		}
	}
	return out, nil
}

func (s *OperatorStore) scanPublishers(ctx context.Context, filter expression.ConditionBuilder) ([]publisherItem, error) {
	e, err := expression.NewBuilder().WithFilter(filter).Build()
	if err != nil {
		return nil, fmt.Errorf("build expression: %w", err)
	}
	scanner, ok := s.db.(dynamodb.ScanAPIClient)
	if !ok {
		return nil, errors.New("list publishers: this DynamoDB client cannot scan")
	}
	pages := dynamodb.NewScanPaginator(scanner, &dynamodb.ScanInput{
		TableName:                 &s.table,
		FilterExpression:          e.Filter(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	var out []publisherItem
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan publishers: %w", err)
		}
		var items []publisherItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, fmt.Errorf("decode publishers: %w", err)
		}
		out = append(out, items...)
	}
	return out, nil
}

func (i publisherItem) info() operator.PublisherInfo {
	p := i.publisher()
	info := operator.PublisherInfo{
		ID:                       p.ID,
		Name:                     p.Name,
		StoreKit2Active:          p.StoreKit2Active,
		MigrationInProgress:      p.MigrationInProgress,
		RequireSignedTransaction: p.RequireSignedTransaction,
		VerifyWithApple:          p.VerifyWithApple,
		CreatedAt:                i.CreatedAt,
	}
	if p.Apple != nil {
		app := operator.AppleInfo(*p.Apple)
		info.Apple = &app
	}
	return info
}

// Tokens lists a publisher's tokens (their hashes and state, never a token).
func (s *OperatorStore) Tokens(ctx context.Context, id transfer.PublisherID) ([]operator.TokenInfo, error) {
	var items []tokenItem
	if err := s.queryPrefix(ctx, publisherPK(id), prefixToken, &items); err != nil {
		return nil, fmt.Errorf("query tokens: %w", err)
	}
	out := make([]operator.TokenInfo, 0, len(items))
	for _, it := range items {
		out = append(out, operator.TokenInfo{
			Hash:      it.TokenHash,
			Label:     it.Label,
			CreatedAt: it.CreatedAt,
			RevokedAt: it.RevokedAt,
			ExpiresAt: it.ExpiresAt,
		})
	}
	return out, nil
}

// AddToken stores one more token of an existing publisher.
func (s *OperatorStore) AddToken(ctx context.Context, id transfer.PublisherID, t operator.NewToken) error {
	exists, err := s.check(publisherKey(id), expression.AttributeExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	tok, err := s.newToken(id, t, s.now().UTC())
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{exists, tok})
	if failedCheck(reasons, 0) {
		return operator.ErrPublisherNotFound
	}
	return err
}

// RotateToken stores a new token and lets the old one expire at graceUntil,
// in one transaction. The old token must be live and not already rotated out.
func (s *OperatorStore) RotateToken(ctx context.Context, id transfer.PublisherID, oldHash string, next operator.NewToken, graceUntil time.Time) error {
	tok, err := s.newToken(id, next, s.now().UTC())
	if err != nil {
		return err
	}
	live := expression.AttributeExists(expression.Name(attrPK)).
		And(expression.AttributeNotExists(expression.Name("revokedAt"))).
		And(expression.AttributeNotExists(expression.Name("expiresAt")))
	old, err := s.update(tokenKey(id, oldHash),
		expression.Set(expression.Name("expiresAt"), expression.Value(graceUntil.UTC())), live)
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{old, tok})
	if failedCheck(reasons, 0) {
		return operator.ErrTokenNotLive
	}
	return err
}

func (s *OperatorStore) newToken(id transfer.PublisherID, t operator.NewToken, now time.Time) (types.TransactWriteItem, error) {
	return s.put(tokenItem{
		key:         tokenKey(id, t.Hash),
		PublisherID: int64(id),
		TokenHash:   t.Hash,
		Label:       t.Label,
		CreatedAt:   now,
	}, expression.AttributeNotExists(expression.Name(attrPK)))
}

// PutPublisher creates or replaces a publisher's settings.
func (s *OperatorStore) PutPublisher(ctx context.Context, p transfer.Publisher) error {
	return s.putItem(ctx, publisherItem{
		key:                      publisherKey(p.ID),
		PublisherID:              int64(p.ID),
		Name:                     p.Name,
		StoreKit2Active:          p.StoreKit2Active,
		MigrationInProgress:      p.MigrationInProgress,
		RequireSignedTransaction: p.RequireSignedTransaction,
		VerifyWithApple:          p.VerifyWithApple,
		Apple:                    newAppleAppItem(p.Apple),
		CreatedAt:                s.now().UTC(),
	})
}

// PutToken stores a publisher token by its hash; the token itself is never stored.
func (s *OperatorStore) PutToken(ctx context.Context, p transfer.PublisherID, hash, label string) error {
	return s.putItem(ctx, tokenItem{
		key:         tokenKey(p, hash),
		PublisherID: int64(p),
		TokenHash:   hash,
		Label:       label,
		CreatedAt:   s.now().UTC(),
	})
}

// RevokeToken makes a token unusable from now on (within the API's
// credential cache TTL).
func (s *OperatorStore) RevokeToken(ctx context.Context, p transfer.PublisherID, hash string) error {
	err := s.updateIf(ctx, tokenKey(p, hash),
		expression.Set(expression.Name("revokedAt"), expression.Value(s.now().UTC())),
		expression.AttributeExists(expression.Name(attrPK)))
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}
