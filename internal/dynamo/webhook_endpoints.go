package dynamo

import (
	"context"
	"fmt"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Webhook endpoints in their publisher's partition (EndpointStore).

// CreateEndpoint stores a new endpoint, provided its publisher exists.
func (s *EndpointStore) CreateEndpoint(ctx context.Context, e webhook.Endpoint) error {
	publisher, err := s.check(publisherKey(e.PublisherID), expression.AttributeExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	put, err := s.put(newEndpointItem(e), expression.AttributeNotExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{publisher, put})
	if failedCheck(reasons, 0) {
		return webhook.ErrUnknownPublisher
	}
	if err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}
	return nil
}

// ReplaceEndpoint stores e if the stored endpoint is still at fromVersion.
func (s *EndpointStore) ReplaceEndpoint(ctx context.Context, e webhook.Endpoint, fromVersion int64) error {
	put, err := s.put(newEndpointItem(e), expression.Name("version").Equal(expression.Value(fromVersion)))
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{put})
	if failedCheck(reasons, 0) {
		if len(reasons[0].Item) == 0 {
			return webhook.ErrUnknownEndpoint
		}
		return webhook.ErrEndpointChanged
	}
	if err != nil {
		return fmt.Errorf("replace endpoint: %w", err)
	}
	return nil
}

// Endpoint reads one endpoint; nil when unknown.
func (s *EndpointStore) Endpoint(ctx context.Context, p transfer.PublisherID, id string) (*webhook.Endpoint, error) {
	var item endpointItem
	ok, err := s.getItem(ctx, endpointKey(p, id), &item)
	if err != nil || !ok {
		return nil, err
	}
	e := item.endpoint()
	return &e, nil
}

// Endpoints lists a publisher's endpoints, strongly consistently (a
// subscription made just before a finalization is served).
func (s *EndpointStore) Endpoints(ctx context.Context, p transfer.PublisherID) ([]webhook.Endpoint, error) {
	var items []endpointItem
	if err := s.queryPrefix(ctx, publisherPK(p), prefixEndpoint, &items); err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	out := make([]webhook.Endpoint, len(items))
	for i, it := range items {
		out[i] = it.endpoint()
	}
	return out, nil
}

// DeleteEndpoint removes an endpoint.
func (s *EndpointStore) DeleteEndpoint(ctx context.Context, p transfer.PublisherID, id string) error {
	del, err := s.delete(endpointKey(p, id), expression.AttributeExists(expression.Name(attrPK)))
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{del})
	if failedCheck(reasons, 0) {
		return webhook.ErrUnknownEndpoint
	}
	if err != nil {
		return fmt.Errorf("delete endpoint: %w", err)
	}
	return nil
}
