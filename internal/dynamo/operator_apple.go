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
// (OperatorStore): the publisher item's apple map, requireSignedTransaction and
// verifyWithApple.

// SetApple replaces the publisher's app (the apple map, whole) and the
// switches that are not nil, in one UpdateItem conditioned on the publisher
// existing; operator.ErrPublisherNotFound otherwise. Nothing else of the
// publisher changes. A false switch is removed rather than stored, as a new
// publisher item has it (omitempty).
func (s *OperatorStore) SetApple(ctx context.Context, id transfer.PublisherID, app transfer.AppleApp, sw operator.AppleSwitches) error {
	upd := expression.Set(expression.Name("apple"), expression.Value(newAppleAppItem(&app)))
	return s.updateApple(ctx, id, upd, sw, "set apple app")
}

// SetAppleSwitches changes the switches given, in one UpdateItem conditioned
// on the publisher existing; operator.ErrPublisherNotFound otherwise.
func (s *OperatorStore) SetAppleSwitches(ctx context.Context, id transfer.PublisherID, sw operator.AppleSwitches) error {
	return s.updateApple(ctx, id, expression.UpdateBuilder{}, sw, "set apple switches")
}

// updateApple applies upd and the switches of sw that are not nil to the
// publisher item, if the publisher exists (operator.ErrPublisherNotFound);
// another failure is wrapped with what.
func (s *OperatorStore) updateApple(ctx context.Context, id transfer.PublisherID, upd expression.UpdateBuilder, sw operator.AppleSwitches, what string) error {
	upd = setFlag(upd, "requireSignedTransaction", sw.RequireSignedTransaction)
	upd = setFlag(upd, "verifyWithApple", sw.VerifyWithApple)
	err := s.updateIf(ctx, publisherKey(id), upd, expression.AttributeExists(expression.Name(attrPK)))
	switch {
	case errors.Is(err, errConditionFailed):
		return operator.ErrPublisherNotFound
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// setFlag sets an omitempty boolean attribute: stored only when true, as the
// item structs write it; nil leaves it as it is.
func setFlag(upd expression.UpdateBuilder, name string, v *bool) expression.UpdateBuilder {
	switch {
	case v == nil:
		return upd
	case *v:
		return upd.Set(expression.Name(name), expression.Value(true))
	}
	return upd.Remove(expression.Name(name))
}
