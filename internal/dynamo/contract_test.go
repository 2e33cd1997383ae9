package dynamo_test

import (
	"context"
	"os"
	"testing"

	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/dev/storecontract"
	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/transfer"
)

var _ storecontract.Seeder = (*dynamo.OperatorStore)(nil)

var stack *localaws.Stack

func TestMain(m *testing.M) {
	os.Exit(testkit.RunWithStack(m, testkit.StackOptions{}, func(s *localaws.Stack) { stack = s }))
}

// TestContract holds the adapter to the ports' contract on DynamoDB Local,
// each subtest on a table of its own.
func TestContract(t *testing.T) {
	testkit.SkipWithoutStack(t)
	storecontract.Run(t, func(t *testing.T) storecontract.Stores {
		res, err := stack.IsolatedResources(context.Background())
		if err != nil {
			t.Fatalf("resources: %v", err)
		}
		table := dynamo.NewTable(stack.Clients.DynamoDB, res.Table)
		op := dynamo.NewOperatorStore(table)
		return storecontract.Stores{
			Directory: dynamo.NewDirectory(table),
			Sync:      dynamo.NewAcceptStore(table),
			Work:      dynamo.NewWorkStore(table),
			Sweep:     dynamo.NewSweepStore(table),
			Seed:      op,
			History: func(ctx context.Context, p transfer.PublisherID, otx string) ([]storecontract.HistoryEntry, error) {
				h, err := op.History(ctx, p, otx)
				out := make([]storecontract.HistoryEntry, len(h))
				for i, e := range h {
					out[i] = storecontract.HistoryEntry{OriginalTransactionID: e.OriginalTransactionID,
						From: transfer.CustomerID(e.From), To: transfer.CustomerID(e.To), SynchronizationID: e.SynchronizationID, At: e.At}
				}
				return out, err
			},
		}
	})
}
