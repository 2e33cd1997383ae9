package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// Giving an unowned purchase its first owner (OperatorStore), for
// `transferctl purchase assign` and the import.

// AssignOwner sets the purchase's owner and its byOwner index keys and bumps
// its version, in one TransactWriteItems: the update conditioned on the
// purchase having no owner and being at version, and a condition check that
// the customer exists. No history entry: history records transfers.
// operator.ErrCustomerNotFound when the customer is missing (checked first),
// else operator.ErrPurchaseChanged when the purchase is not as read (an
// owner now, another version, or gone).
func (s *OperatorStore) AssignOwner(ctx context.Context, p transfer.PublisherID, otx string, version int64, to transfer.CustomerID) error {
	items, err := s.assignItems(p, otx, version, to, expression.UpdateBuilder{})
	if err != nil {
		return err
	}
	return assignOutcome(s.transact(ctx, items))
}

// assignItems are the transaction items of an assignment; more sets other
// attributes in the same update (an import's update of the purchase).
func (s *OperatorStore) assignItems(p transfer.PublisherID, otx string, version int64, to transfer.CustomerID, more expression.UpdateBuilder) ([]types.TransactWriteItem, error) {
	set := more.
		Set(expression.Name("ownerCustomerId"), expression.Value(int64(to))).
		Set(expression.Name(attrOwnerPK), expression.Value(customerPK(p, to))).
		Set(expression.Name(attrOwnerSK), expression.Value(ownerSK(otx))).
		Set(expression.Name("version"), expression.Value(version+1)).
		Set(expression.Name("updatedAt"), expression.Value(s.now().UTC()))
	cond := expression.AttributeNotExists(expression.Name("ownerCustomerId")).
		And(expression.Name("version").Equal(expression.Value(version)))
	purchase, err := s.update(purchaseKey(p, otx), set, cond)
	if err != nil {
		return nil, err
	}
	customer, err := s.check(customerKey(p, to), expression.AttributeExists(expression.Name(attrPK)))
	if err != nil {
		return nil, err
	}
	return []types.TransactWriteItem{purchase, customer}, nil
}

func assignOutcome(reasons []types.CancellationReason, err error) error {
	switch {
	case failedCheck(reasons, 1):
		return operator.ErrCustomerNotFound
	case failedCheck(reasons, 0):
		return operator.ErrPurchaseChanged
	}
	return err
}
