package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// line is an import line of a purchase; fields it lacks are left out.
type line struct {
	owner              int64
	otx, state, offer  string
	product, expiresAt string
	txs                []string
}

func (l line) String() string {
	m := map[string]any{"type": "purchase", "cleengCustomerId": l.owner, "originalTransactionId": l.otx,
		"offerId": l.offer, "kind": "auto-renewable", "state": l.state}
	if len(l.txs) > 0 {
		m["transactionIds"] = l.txs
	}
	if l.product != "" {
		m["productId"] = l.product
	}
	if l.expiresAt != "" {
		m["expiresAt"] = l.expiresAt
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func jsonl(lines ...fmt.Stringer) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.String() + "\n")
	}
	return b.String()
}

// importArgs runs import --json with extra flags and decodes the report.
func (f *fixture) importArgs(publisher transfer.PublisherID, file string, wantCode int, flags ...string) (operator.Report, string) {
	f.t.Helper()
	r := f.ctl(append(append([]string{"--json", "import", "--publisher", fmt.Sprint(publisher)}, flags...), file)...)
	if r.code != wantCode {
		f.t.Fatalf("import %s %v: want exit %d, got %v", file, flags, wantCode, r)
	}
	var report operator.Report
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		f.t.Fatalf("import report: %v\n%s", err, r.stdout)
	}
	return report, r.stderr
}

// TestImportUpdateAndAssign: without --update an import changes nothing
// stored except giving an unowned purchase its owner; with --update it brings
// purchases up to date from their lines (never the owner a transfer gave),
// refusing transactionIds of other chains; every change bumps the version
// once, and the same file again changes nothing.
func TestImportUpdateAndAssign(t *testing.T) {
	f := newFixture(t)
	f.startProcessor(nil)
	id, token := f.createPublisher()
	pid := fmt.Sprint(id)
	ctx := context.Background()
	const (
		p1, p1b, p1c = "4400000000000001", "4400000000000002", "4400000000000003"
		p2           = "4400000000000011"
		p3           = "4400000000000021"
		p6           = "4400000000000041"
		u1, u2       = "4400000000000031", "4400000000000061"
		n1           = "4400000000000051"
		p4           = "4400000000000071"
		expires      = "2036-01-01T00:00:00Z"
	)
	active := func(owner int64, otx string, txs ...string) line {
		return line{owner: owner, otx: otx, state: "active", offer: "S1_US", product: "com.example.monthly", expiresAt: expires, txs: txs}
	}
	first := jsonl(active(940000001, p1, p1b), active(940000001, p2), active(940000001, p3), active(940000001, p6),
		operatorCustomer(940000002))
	if r, _ := f.importArgs(id, f.writeFile("first.jsonl", first), exitOK); r.PurchasesCreated != 4 {
		t.Fatalf("first import: %+v", r)
	}
	f.putUnowned(id, u1)
	f.putUnowned(id, u2)
	// A transfer moves p1 to 940000002 (version 1).
	if res := f.waitFinalized(token, f.transfer(token, 940000002, p1b)); res != string(transfer.ResultTransferred) {
		t.Fatalf("transfer: %s", res)
	}

	p1Revoked := active(940000001, p1, p1b, p1c) // the line still names the first owner
	p1Revoked.state = "revoked"
	p3Later := active(940000001, p3)
	p3Later.expiresAt, p3Later.product = "2037-06-01T00:00:00Z", ""
	u1Line := active(940000003, u1)
	u1Line.offer = "S2_US"
	second := jsonl(p1Revoked, active(940000001, p2), p3Later, u1Line, active(940000001, n1))
	file := f.writeFile("second.jsonl", second)

	// Without --update: n1 created, u1 assigned (nothing else of it).
	plain, _ := f.importArgs(id, file, exitOK)
	if plain.PurchasesCreated != 1 || plain.PurchasesAssigned != 1 || plain.PurchasesUpdated != 0 || plain.PurchasesUnchanged != 3 || plain.Skipped != 0 {
		t.Fatalf("import without --update: %+v", plain)
	}
	purchase := func(otx string) transfer.Purchase {
		t.Helper()
		got, err := f.svc.Stores.Operator.Purchase(ctx, id, otx)
		if err != nil || got == nil {
			t.Fatalf("purchase %s: %+v %v", otx, got, err)
		}
		return *got
	}
	if got := purchase(u1); got.Owner != 940000003 || got.Version != 3 || got.OfferID != "S1_US" {
		t.Errorf("u1 after the assignment: %+v", got)
	}
	if got := purchase(p1); got.State != transfer.StateActive || got.Owner != 940000002 || got.Version != 1 || len(got.TransactionIDs) != 2 {
		t.Errorf("p1 changed without --update: %+v", got)
	}
	if got := purchase(p3); got.ProductID != "com.example.monthly" || got.Version != 0 {
		t.Errorf("p3 changed without --update: %+v", got)
	}

	// With --update.
	updated, _ := f.importArgs(id, file, exitOK, "--update")
	if updated.PurchasesCreated != 0 || updated.PurchasesUpdated != 3 || updated.PurchasesAssigned != 0 || updated.PurchasesUnchanged != 2 || updated.Skipped != 0 {
		t.Fatalf("import --update: %+v", updated)
	}
	got := purchase(p1)
	if got.Owner != 940000002 || got.State != transfer.StateRevoked || got.Version != 2 || !slices.Equal(got.TransactionIDs, []string{p1, p1b, p1c}) {
		t.Errorf("p1 after --update: %+v", got)
	}
	if history, err := f.svc.Stores.Operator.History(ctx, id, p1); err != nil || len(history) != 1 {
		t.Errorf("p1's history after --update: %+v %v", history, err)
	}
	var shown struct {
		OriginalTransactionID string `json:"originalTransactionId"`
	}
	f.okJSON(&shown, "purchase", "show", "--publisher", pid, p1c)
	if shown.OriginalTransactionID != p1 {
		t.Errorf("the added transactionId names %q", shown.OriginalTransactionID)
	}
	got = purchase(p3)
	if got.ProductID != "" || !got.ExpiresAt.Equal(time.Date(2037, 6, 1, 0, 0, 0, 0, time.UTC)) || got.Version != 1 {
		t.Errorf("p3 after --update: %+v", got)
	}
	if got := purchase(u1); got.Owner != 940000003 || got.OfferID != "S2_US" || got.Version != 4 || got.AppleSignedAt.IsZero() {
		t.Errorf("u1 after --update: %+v", got)
	}
	if got := purchase(p2); got.Version != 0 {
		t.Errorf("an unchanged line bumped p2: %+v", got)
	}

	// The same file again changes nothing; the summary says so.
	r := f.ctl("import", "--update", "--publisher", pid, file)
	if r.code != exitOK || !strings.Contains(r.stdout, "purchases: 0 created, 0 updated, 0 assigned an owner, 5 unchanged") ||
		!strings.Contains(r.stdout, "skipped: 0 lines") {
		t.Errorf("the same file again: %v", r)
	}
	for otx, version := range map[string]int64{p1: 2, p2: 0, p3: 1, u1: 4, n1: 0} {
		if got := purchase(otx); got.Version != version {
			t.Errorf("%s at version %d after the re-run, want %d", otx, got.Version, version)
		}
	}

	// transactionIds of stored chains are refused, a new chain's in both
	// modes, an update's with --update; a refused line writes nothing.
	p6Steals := active(940000001, p6, p1b) // p1b is p1's
	p6Steals.state = "expired"
	stealing := f.writeFile("stealing.jsonl", jsonl(p6Steals, active(940000001, p4, p2))) // p2 is another chain's originalTransactionId
	plain, stderr := f.importArgs(id, stealing, exitPartial)
	if plain.PurchasesUnchanged != 1 || plain.Skipped != 1 ||
		!strings.Contains(stderr, ":2: transactionId "+p2+" already belongs to stored purchase "+p2+" (its originalTransactionId)") {
		t.Errorf("stealing lines without --update: %+v\n%s", plain, stderr)
	}
	updated, stderr = f.importArgs(id, stealing, exitPartial, "--update")
	if updated.PurchasesUnchanged != 0 || updated.PurchasesUpdated != 0 || updated.Skipped != 2 ||
		!strings.Contains(stderr, ":1: transactionId "+p1b+" already belongs to stored purchase "+p1) {
		t.Errorf("stealing lines with --update: %+v\n%s", updated, stderr)
	}
	if got := purchase(p6); got.State != transfer.StateActive || got.Version != 0 || len(got.TransactionIDs) != 1 {
		t.Errorf("a refused update changed p6: %+v", got)
	}
	if r := f.ctl("purchase", "show", "--publisher", pid, p4); r.code != exitFailed {
		t.Errorf("the refused new purchase is stored: %v", r)
	}
	f.okJSON(&shown, "purchase", "show", "--publisher", pid, p1b)
	if shown.OriginalTransactionID != p1 {
		t.Errorf("%s names %q after the refusals", p1b, shown.OriginalTransactionID)
	}

	// Assigned and updated by one line: one write, one version.
	u2Line := active(940000004, u2)
	u2Line.state = "expired"
	both, _ := f.importArgs(id, f.writeFile("u2.jsonl", jsonl(u2Line)), exitOK, "--update")
	if both.PurchasesAssigned != 1 || both.PurchasesUpdated != 1 || both.PurchasesUnchanged != 0 || both.CustomersCreated != 1 {
		t.Fatalf("assign and update: %+v", both)
	}
	if got := purchase(u2); got.Owner != 940000004 || got.State != transfer.StateExpired || got.Version != 3 {
		t.Errorf("u2 after assign and update: %+v", got)
	}
}

// operatorCustomer is a customer line.
type operatorCustomer int64

func (c operatorCustomer) String() string {
	return fmt.Sprintf(`{"type":"customer","cleengCustomerId":%d}`, int64(c))
}

// meddler is the DynamoDB client of an import that, once, just before the
// import's first conditional write to a purchase, changes that purchase's
// version as an Apple notification or a transfer would.
type meddler struct {
	dynamo.API
	table   string
	pk      string
	meddled bool
}

func (m *meddler) meddle(ctx context.Context, key map[string]types.AttributeValue) {
	if pk, _ := key["pk"].(*types.AttributeValueMemberS); m.meddled || pk == nil || pk.Value != m.pk {
		return
	}
	m.meddled = true
	_, err := m.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &m.table, Key: key, UpdateExpression: aws.String("SET version = version + :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	})
	if err != nil {
		panic(err)
	}
}

func (m *meddler) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	m.meddle(ctx, in.Key)
	return m.API.UpdateItem(ctx, in, opts...)
}

func (m *meddler) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if u := in.TransactItems[0].Update; u != nil {
		m.meddle(ctx, u.Key)
	}
	return m.API.TransactWriteItems(ctx, in, opts...)
}

// TestImportRereadsAPurchaseThatChanged: a purchase that changes between the
// import's read and its conditional write is read again and decided anew;
// nothing is overwritten, and the version counts both changes.
func TestImportRereadsAPurchaseThatChanged(t *testing.T) {
	f := newFixture(t)
	id, _ := f.createPublisher()
	ctx := context.Background()
	const owned, unowned = "4500000000000001", "4500000000000011"
	f.importArgs(id, f.writeFile("first.jsonl", jsonl(line{owner: 950000001, otx: owned, state: "active", offer: "S1_US"})), exitOK)
	f.putUnowned(id, unowned)

	for otx, flags := range map[string][]string{owned: {"--update"}, unowned: nil} {
		before, _ := f.svc.Stores.Operator.Purchase(ctx, id, otx)
		m := &meddler{API: stack.Clients.DynamoDB, table: f.res.Table, pk: fmt.Sprintf("PUB#%d#PURCHASE#%s", id, otx)}
		store := dynamo.NewOperatorStore(dynamo.NewTable(m, f.res.Table))
		in := jsonl(line{owner: 950000002, otx: otx, state: "revoked", offer: "S1_US"})
		report, err := operator.NewImporter(store, operator.WithUpdate(flags != nil)).Import(ctx, id, strings.NewReader(in), 0)
		if err != nil || !m.meddled || report.Skipped != 0 {
			t.Fatalf("%s: %+v %v (meddled %v)", otx, report, err, m.meddled)
		}
		got, _ := f.svc.Stores.Operator.Purchase(ctx, id, otx)
		if got.Version != before.Version+2 {
			t.Errorf("%s: version %d, want %d (the meddling and the import)", otx, got.Version, before.Version+2)
		}
		switch otx {
		case owned:
			if report.PurchasesUpdated != 1 || got.State != transfer.StateRevoked || got.Owner != 950000001 {
				t.Errorf("update after a concurrent change: %+v %+v", report, got)
			}
		case unowned:
			if report.PurchasesAssigned != 1 || got.Owner != 950000002 || got.State != transfer.StateActive {
				t.Errorf("assignment after a concurrent change: %+v %+v", report, got)
			}
		}
	}
}
