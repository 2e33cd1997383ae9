package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// A publisher's Apple app, as `transferctl publisher apple set` stores it
// (OperatorStore): the publisher item's apple map and requireSignedTransaction.

// SetApple replaces the publisher's app (the apple map, whole) and, unless
// requireSigned is nil, its requireSignedTransaction, in one UpdateItem
// conditioned on the publisher existing; operator.ErrPublisherNotFound
// otherwise. Nothing else of the publisher changes. A false
// requireSignedTransaction is removed rather than stored, as a new
// publisher item has it (omitempty).
func (s *OperatorStore) SetApple(ctx context.Context, id transfer.PublisherID, app transfer.AppleApp, requireSigned *bool) error {
	upd := expression.Set(expression.Name("apple"), expression.Value(newAppleAppItem(&app)))
	switch {
	case requireSigned == nil:
	case *requireSigned:
		upd = upd.Set(expression.Name("requireSignedTransaction"), expression.Value(true))
	default:
		upd = upd.Remove(expression.Name("requireSignedTransaction"))
	}
	err := s.updateIf(ctx, publisherKey(id), upd, expression.AttributeExists(expression.Name(attrPK)))
	if errors.Is(err, errConditionFailed) {
		return operator.ErrPublisherNotFound
	}
	if err != nil {
		return fmt.Errorf("set apple app: %w", err)
	}
	return nil
}
