package bench_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// The processor's round trips per message, as the bench counts them: 2 for
// a job with its record's hint (one BatchGetItem of the record and what it
// names, one TransactWriteItems); 3 for a job without a hint (the format of
// messages sent before) and for one whose hint is not the record's, whose
// prefetch is discarded. Whatever the hint, the transaction moves the
// record's purchase.
func TestProcessorRoundTripsByHint(t *testing.T) {
	f0 := newFixture(t)
	for _, tc := range []struct {
		name string
		edit func(*transfer.Job)
		want []string
	}{
		{"the record's hint", func(*transfer.Job) {}, []string{"BatchGetItem", "TransactWriteItems"}},
		{"no hint", func(j *transfer.Job) { j.HintTransactionID, j.HintOriginalTransactionID = "", "" },
			[]string{"BatchGetItem", "BatchGetItem", "TransactWriteItems"}},
		{"another purchase's hint", func(j *transfer.Job) {
			j.HintTransactionID, j.HintOriginalTransactionID = "2000000000000999", "2000000000000999"
		},
			[]string{"BatchGetItem", "BatchGetItem", "TransactWriteItems"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			rec := &recordingDynamo{FakeDynamo: f.db}
			proc := transfer.NewProcessor(inprocess.NewStores(dynamo.NewTable(rec, table)).Work)
			job := f.job
			tc.edit(&job)
			if err := proc.Handle(context.Background(), job, 1); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rec.ops, tc.want) {
				t.Errorf("calls %v, want %v", rec.ops, tc.want)
			}
			if len(rec.transacts) != 1 || !movesPurchase(rec.transacts[0].TransactItems, f0.otx) {
				t.Errorf("the transaction does not move the record's purchase %s", f0.otx)
			}
		})
	}
}

// movesPurchase tells whether items update the purchase of chain otx and
// no other purchase.
func movesPurchase(items []types.TransactWriteItem, otx string) bool {
	moved := false
	for _, it := range items {
		if it.Update == nil {
			continue
		}
		pk, _ := it.Update.Key["pk"].(*types.AttributeValueMemberS)
		sk, _ := it.Update.Key["sk"].(*types.AttributeValueMemberS)
		if pk == nil || sk == nil || !strings.Contains(pk.Value, "#PURCHASE#") || strings.Contains(sk.Value, "#") {
			continue
		}
		if !strings.HasSuffix(pk.Value, "#PURCHASE#"+otx) {
			return false
		}
		moved = true
	}
	return moved
}
