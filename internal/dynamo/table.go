package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// API is the part of the DynamoDB client the adapter uses; *dynamodb.Client
// implements it, and tests may wrap it to inject faults.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// DefaultRetention is how long a synchronization record is kept (DynamoDB
// TTL): its status can be polled and its Correlation-Id replayed until then.
const DefaultRetention = 30 * 24 * time.Hour

// Table is the service's one DynamoDB table, shared by the stores below:
// each store is the implementation of one port, sized to it, and all of
// them write through the helpers of transact.go, reads.go and writes.go.
//
//	Directory      transfer.Directory            (transfer, status)
//	AcceptStore    transfer.SynchronizationStore (transfer)
//	SyncReader     transfer.SynchronizationReader (status)
//	WorkStore      transfer.WorkStore            (processor)
//	SweepStore     transfer.OpenStore            (sweeper)
//	EventStore     webhook events                (processor's outbox, webhook, sweeper)
//	DeliveryStore  webhook deliveries            (webhook, transferctl)
//	EndpointStore  webhook endpoints             (webhook, transferctl)
//	OperatorStore  publishers, tokens, customers, purchases (transferctl)
type Table struct {
	db        API
	table     string
	now       func() time.Time
	retention time.Duration
}

// Option configures a Table.
type Option func(*Table)

// WithRetention sets how long synchronization records, and the webhook
// events and deliveries that go with them, live.
func WithRetention(d time.Duration) Option { return func(t *Table) { t.retention = d } }

// NewTable is the table named name, reached through db.
func NewTable(db API, name string, opts ...Option) *Table {
	t := &Table{db: db, table: name, now: time.Now, retention: DefaultRetention}
	for _, opt := range opts {
		opt(t)
	}
	return t
}

// Name is the table's name.
func (t *Table) Name() string { return t.table }

// Directory answers the reads that gate a request (transfer.Directory).
type Directory struct{ *Table }

// NewDirectory is the Directory on t.
func NewDirectory(t *Table) *Directory { return &Directory{t} }

// SyncReader reads synchronization records (the status endpoint's port).
type SyncReader struct{ *Table }

// NewSyncReader is the SyncReader on t.
func NewSyncReader(t *Table) *SyncReader { return &SyncReader{t} }

// AcceptStore opens synchronizations (transfer.SynchronizationStore): the
// record and its locks, in one transaction.
type AcceptStore struct{ SyncReader }

// NewAcceptStore is the AcceptStore on t.
func NewAcceptStore(t *Table) *AcceptStore { return &AcceptStore{SyncReader{t}} }

// WorkStore is the processor's storage (transfer.WorkStore).
type WorkStore struct{ *Table }

// NewWorkStore is the WorkStore on t.
func NewWorkStore(t *Table) *WorkStore { return &WorkStore{t} }

// SweepStore finds and requeues unfinished synchronizations (transfer.OpenStore).
type SweepStore struct{ *Table }

// NewSweepStore is the SweepStore on t.
func NewSweepStore(t *Table) *SweepStore { return &SweepStore{t} }

// EventStore reads the webhook events the processor's outbox recorded and
// tracks their fan-out.
type EventStore struct{ *Table }

// NewEventStore is the EventStore on t.
func NewEventStore(t *Table) *EventStore { return &EventStore{t} }

// DeliveryStore holds each (event, endpoint) delivery and its attempts.
type DeliveryStore struct{ *Table }

// NewDeliveryStore is the DeliveryStore on t.
func NewDeliveryStore(t *Table) *DeliveryStore { return &DeliveryStore{t} }

// EndpointStore holds the publishers' webhook endpoints (webhook.EndpointStore).
type EndpointStore struct{ *Table }

// NewEndpointStore is the EndpointStore on t.
func NewEndpointStore(t *Table) *EndpointStore { return &EndpointStore{t} }

// OperatorStore is what transferctl manages and inspects: publishers and
// their tokens, customers, purchases and their history, and the import.
// Conditional writes make each command safe to repeat and refuse what makes
// no sense (a publisher created twice, a token of an unknown publisher).
// None of it is on the request path.
type OperatorStore struct{ *Table }

// NewOperatorStore is the OperatorStore on t.
func NewOperatorStore(t *Table) *OperatorStore { return &OperatorStore{t} }
