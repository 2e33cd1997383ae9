package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/dev/demoseed"
	"github.com/acme/purchase-transfer/dev/testkit"
	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

func TestEveryCommandHasHelp(t *testing.T) {
	var walk func(c *cobra.Command, path []string)
	count := 0
	walk = func(c *cobra.Command, path []string) {
		r := runCtl(append(path, "--help")...)
		about := c.Long
		if about == "" {
			about = c.Short
		}
		if r.code != exitOK || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, about[:min(30, len(about))]) {
			t.Errorf("transferctl %s --help: %v", strings.Join(path, " "), r)
		}
		count++
		for _, sub := range c.Commands() {
			if sub.Name() != "help" {
				walk(sub, append(append([]string{}, path...), sub.Name()))
			}
		}
	}
	walk(newApp(nil, nil, os.Getenv).rootCommand(), nil)
	if count < 15 {
		t.Errorf("walked only %d commands", count)
	}
}

func TestCommandLineMistakesExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"bogus"},
		{"publisher", "bogus"},
		{"publisher", "show"},
		{"publisher", "show", "abc"},
		{"publisher", "create"},
		{"publisher", "create", "--name", "x", "--nope"},
		{"publisher", "set", "1"},
		{"token"},
		{"purchase", "show", "bad id!"},
		{"dlq", "redrive", "nosuchqueue"},
		{"import"},
		{"--local=x", "--stack=y", "publisher", "list"},
	} {
		if r := runCtl(args...); r.code != exitUsage || r.stderr == "" {
			t.Errorf("transferctl %s: want exit %d with a message, got %v", strings.Join(args, " "), exitUsage, r)
		}
	}
}

func TestMissingLocalFileFails(t *testing.T) {
	r := runCtl("--local="+t.TempDir()+"/run.env", "publisher", "list")
	if r.code != exitFailed || !strings.Contains(r.stderr, "make run") {
		t.Fatalf("want exit 1 telling to start make run, got %v", r)
	}
}

func TestStackOutputsBecomeSettings(t *testing.T) {
	fake := fakeStacks{outputs: map[string]string{
		"TableName": "prod-TransfersTable-1", "TransferQueueUrl": "https://sqs/q", "TransferDeadLetterQueueUrl": "https://sqs/dlq",
		"ApiUrl": "https://api", "SomethingElse": "x",
	}, parameters: map[string]string{
		"JwtHs256SecretId": "purchase-transfer/prod/jwt-hs256", "WebhookSealingKeySecretId": "purchase-transfer/prod/webhook-sealing-key",
		"LogLevel": "INFO",
	}}
	got, err := stackSettings(context.Background(), fake, "prod")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{settingTable: "prod-TransfersTable-1", settingTransferQ: "https://sqs/q", settingTransferDLQ: "https://sqs/dlq", settingAPIURL: "https://api",
		// The secrets by name, read from Secrets Manager when a command needs them.
		settingJWTSecretID: "purchase-transfer/prod/jwt-hs256", settingSealingKeyID: "purchase-transfer/prod/webhook-sealing-key"}
	if len(got) != len(want) {
		t.Fatalf("settings %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

type fakeStacks struct{ outputs, parameters map[string]string }

func (f fakeStacks) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	var outs []cftypes.Output
	for k, v := range f.outputs {
		outs = append(outs, cftypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	var params []cftypes.Parameter
	for k, v := range f.parameters {
		params = append(params, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{StackName: in.StackName, Outputs: outs, Parameters: params}}}, nil
}

func TestPublisherCommands(t *testing.T) {
	f := newFixture(t)
	id, token := f.createPublisher("--id", "123456789")
	if id != 123456789 {
		t.Fatalf("created %d, want the given id", id)
	}
	// The token works at the API: an unknown synchronization is 404, not 401.
	if r := f.api(http.MethodGet, "/purchases/synchronizations/nothing-here", publisherToken(token), ""); r.status != http.StatusNotFound {
		t.Fatalf("new token at the API: %d %s", r.status, r.raw)
	}
	// Only the hash is stored.
	items, err := stack.Clients.DynamoDB.Scan(context.Background(), scanInput(f.res.Table))
	if err != nil {
		t.Fatal(err)
	}
	if raw := fmt.Sprint(items.Items); strings.Contains(raw, strings.TrimPrefix(token, "pt_123456789_")) {
		t.Fatal("the token's secret is stored")
	}

	if r := f.ctl("publisher", "create", "--name", "again", "--id", "123456789"); r.code != exitFailed || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("creating a taken id: %v", r)
	}
	random, _ := f.createPublisher("--storekit2=false")
	if random < 100_000_000 || random > 999_999_999 {
		t.Errorf("random id %d is not nine digits", random)
	}

	list := f.ok("publisher", "list").stdout
	for _, want := range []string{"123456789", fmt.Sprint(random), "Test Publisher"} {
		if !strings.Contains(list, want) {
			t.Errorf("publisher list lacks %q:\n%s", want, list)
		}
	}
	var listed []operator.PublisherInfo
	f.okJSON(&listed, "publisher", "list")
	// Sorted by id; the random id may fall on either side of 123456789.
	byID := map[transfer.PublisherID]operator.PublisherInfo{}
	for _, p := range listed {
		byID[p.ID] = p
	}
	if len(listed) != 2 || listed[0].ID > listed[1].ID || !byID[123456789].StoreKit2Active || byID[random].StoreKit2Active || byID[random].ID != random {
		t.Errorf("publisher list --json: %+v", listed)
	}

	// Flags change what the API answers.
	f.ok("publisher", "set", "123456789", "--migration=true")
	var shown struct {
		operator.PublisherInfo
		Tokens []struct {
			ID    string `json:"tokenId"`
			State string `json:"state"`
		} `json:"tokens"`
	}
	f.okJSON(&shown, "publisher", "show", "123456789")
	if !shown.MigrationInProgress || !shown.StoreKit2Active || len(shown.Tokens) != 1 || shown.Tokens[0].State != "live" {
		t.Fatalf("publisher show after set: %+v", shown)
	}
	r := f.api(http.MethodPost, "/purchases/transfers", publisherToken(token), `{"cleengCustomerId": 1, "transactionId": "t1"}`)
	if r.status != http.StatusUnprocessableEntity || r.str("code") != "SK2C0005" {
		t.Fatalf("transfer while migrating: %d %s", r.status, r.raw)
	}
	f.ok("publisher", "set", "123456789", "--migration=false", "--storekit2=false")
	r = f.api(http.MethodPost, "/purchases/transfers", publisherToken(token), `{"cleengCustomerId": 1, "transactionId": "t1"}`)
	if r.status != http.StatusInternalServerError || r.str("code") != "SK2C0004" {
		t.Fatalf("transfer with StoreKit 2 off: %d %s", r.status, r.raw)
	}
	if r := f.ctl("publisher", "set", "999", "--migration=true"); r.code != exitFailed || !strings.Contains(r.stderr, "no publisher") {
		t.Fatalf("set on an unknown publisher: %v", r)
	}
}

func TestTokenRotationAndRevocationAtTheAPI(t *testing.T) {
	f := newFixture(t)
	id, first := f.createPublisher()
	pid := fmt.Sprint(id)
	works := func(token string) bool {
		return f.api(http.MethodGet, "/purchases/synchronizations/probe", publisherToken(token), "").status == http.StatusNotFound
	}
	refused := func(token string) bool {
		r := f.api(http.MethodGet, "/purchases/synchronizations/probe", publisherToken(token), "")
		return r.status == http.StatusUnauthorized && r.str("code") == "AUTH0002"
	}
	newToken := func(args ...string) string {
		var issued operator.Issued
		f.okJSON(&issued, args...)
		return issued.Token
	}

	// Rotation with a grace period: both work until it ends.
	second := newToken("publisher", "token", "rotate", pid, first, "--grace", "1h")
	if !works(first) || !works(second) {
		t.Fatal("during the grace period both tokens must work")
	}
	// Rotating an already rotated-out token is refused.
	if r := f.ctl("publisher", "token", "rotate", pid, first); r.code != exitFailed {
		t.Fatalf("second rotation of the same token: %v", r)
	}

	// Rotation without grace: the old token is refused at once.
	third := newToken("publisher", "token", "rotate", pid, second, "--grace", "0")
	if !refused(second) || !works(third) {
		t.Fatal("after rotation with --grace 0 the old token must be refused and the new one work")
	}

	// Revocation, by token id (a prefix of the hash, as publisher show lists it).
	var shown struct {
		Tokens []struct {
			ID    string `json:"tokenId"`
			State string `json:"state"`
		} `json:"tokens"`
	}
	f.okJSON(&shown, "publisher", "show", pid)
	states := map[string]int{}
	for _, tok := range shown.Tokens {
		states[tok.State]++
	}
	if states["live"] != 1 || states["expiring"] != 1 || states["expired"] != 1 {
		t.Fatalf("token states %v, want one live, one expiring, one expired", states)
	}
	liveID := ""
	for _, tok := range shown.Tokens {
		if tok.State == "live" {
			liveID = tok.ID
		}
	}
	if r := f.ok("publisher", "token", "revoke", pid, liveID[:8]); !strings.Contains(r.stdout, "Revoked") {
		t.Fatalf("revoke: %v", r)
	}
	if !refused(third) {
		t.Fatal("a revoked token must be refused")
	}
	added := newToken("publisher", "token", "add", pid, "--label", "ci")
	if !works(added) {
		t.Fatal("an added token must work")
	}
	if r := f.ctl("publisher", "token", "revoke", pid, "ffffffffffff"); r.code != exitFailed {
		t.Fatalf("revoking an unknown token id: %v", r)
	}
}

// importJSON runs an import with --json and decodes the report.
func (f *fixture) importJSON(publisher transfer.PublisherID, file string, wantCode int) operator.Report {
	f.t.Helper()
	report, _ := f.importWithProgress(publisher, file, wantCode)
	return report
}

// importWithProgress is importJSON that also returns what went to standard error.
func (f *fixture) importWithProgress(publisher transfer.PublisherID, file string, wantCode int) (operator.Report, string) {
	f.t.Helper()
	r := f.ctl("--json", "import", "--publisher", fmt.Sprint(publisher), file)
	if r.code != wantCode {
		f.t.Fatalf("import %s: want exit %d, got %v", file, wantCode, r)
	}
	var report operator.Report
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		f.t.Fatalf("import report: %v\n%s", err, r.stdout)
	}
	return report, r.stderr
}

func TestImportReportsBadLinesAndIsIdempotent(t *testing.T) {
	f := newFixture(t)
	id, _ := f.createPublisher()

	r := f.ctl("import", "--publisher", fmt.Sprint(id), "../../examples/purchases-with-errors.jsonl")
	if r.code != exitPartial {
		t.Fatalf("import with bad lines: %v", r)
	}
	for _, line := range []string{":2: cleengCustomerId", ":4: kind", ":5: expiresAt", ":6: transactionId 3100000000000041", ":7: not valid JSON"} {
		if !strings.Contains(r.stderr, line) {
			t.Errorf("stderr does not report %q:\n%s", line, r.stderr)
		}
	}
	if strings.Contains(r.stderr, ":1:") || strings.Contains(r.stderr, ":3:") {
		t.Errorf("valid lines reported as invalid:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "purchases: 1 created") {
		t.Errorf("summary: %s", r.stdout)
	}

	// A few thousand lines, each purchase with its own owner and a second
	// transactionId, through several parallel chunks.
	const n = 2000
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"type":"purchase","cleengCustomerId":%d,"originalTransactionId":"9%015d","transactionIds":["8%015d"],"offerId":"S1_US","kind":"auto-renewable","state":"active","expiresAt":"2036-01-01T00:00:00Z"}`+"\n", 500_000_000+i, i, i)
	}
	fmt.Fprintf(&b, `{"type":"customer","cleengCustomerId":%d}`+"\n", 500_000_000) // already created by line 1
	big := f.writeFile("big.jsonl", b.String())
	first, progress := f.importWithProgress(id, big, exitOK)
	if first.Lines != n+1 || first.PurchasesCreated != n || first.CustomersCreated != n || len(first.Invalid) != 0 {
		t.Fatalf("first import: %+v", first)
	}
	again := f.importJSON(id, big, exitOK)
	if again.PurchasesCreated != 0 || again.CustomersCreated != 0 || again.PurchasesUnchanged != n || again.CustomersExisting != n {
		t.Fatalf("re-import created something: %+v", again)
	}
	store, err := f.svc.Stores.Operator.PurchaseByTransaction(context.Background(), id, fmt.Sprintf("8%015d", n-1))
	if err != nil || store == nil || store.Owner != 500_000_000+n-1 || store.OriginalTransactionID != fmt.Sprintf("9%015d", n-1) {
		t.Fatalf("last purchase by its second transactionId: %+v %v", store, err)
	}

	// Plain progress lines when standard error is not a terminal.
	if !strings.Contains(progress, "lines/s") || strings.Contains(progress, "\r") {
		t.Errorf("progress on a pipe should be plain lines with a rate:\n%s", progress)
	}

	// Importing into a publisher that does not exist is refused.
	if r := f.ctl("import", "--publisher", "42", big); r.code != exitFailed || !strings.Contains(r.stderr, "publisher create") {
		t.Fatalf("import into an unknown publisher: %v", r)
	}
}

func TestReimportKeepsWhatTransfersChanged(t *testing.T) {
	f := newFixture(t)
	f.startProcessor(nil)
	id, token := f.createPublisher()
	f.importJSON(id, "../../examples/purchases.jsonl", exitOK)

	sync := f.transfer(token, 910000003, "3100000000000012")
	if res := f.waitFinalized(token, sync); res != string(transfer.ResultTransferred) {
		t.Fatalf("transfer result %s", res)
	}
	report := f.importJSON(id, "../../examples/purchases.jsonl", exitOK)
	if report.PurchasesCreated != 0 || report.PurchasesUnchanged != 4 || report.CustomersCreated != 0 {
		t.Fatalf("re-import: %+v", report)
	}
	got, err := f.svc.Stores.Operator.Purchase(context.Background(), id, "3100000000000011")
	if err != nil || got.Owner != 910000003 || got.Version != 1 {
		t.Fatalf("after re-import the purchase must stay with its new owner at version 1: %+v %v", got, err)
	}
}

// TestReadmeWalkthrough follows the README's newcomer walk-through, with its
// ids: create a publisher, import the example purchases, transfer one with
// a Correlation-Id, inspect it.
func TestReadmeWalkthrough(t *testing.T) {
	f := newFixture(t)
	f.startProcessor(nil)

	// MY_TOKEN=$(bin/transferctl --local publisher create --name "My Streaming Service" --id 555000001 --quiet)
	token := strings.TrimSpace(f.ok("publisher", "create", "--name", "My Streaming Service", "--id", "555000001", "--quiet").stdout)
	if !strings.HasPrefix(token, "pt_555000001_") || strings.Contains(token, "\n") {
		t.Fatalf("publisher create --quiet printed %q", token)
	}
	// bin/transferctl --local import --publisher 555000001 examples/purchases.jsonl
	imported := f.ok("import", "--publisher", "555000001", "../../examples/purchases.jsonl")
	if !strings.Contains(imported.stdout, "purchases: 4 created") || !strings.Contains(imported.stdout, "customers: 3 created") {
		t.Fatalf("import: %v", imported)
	}

	// curl -X POST "$API_URL/purchases/transfers" -H "X-Publisher-Token: $MY_TOKEN" -H 'Correlation-Id: walkthrough-1' ...
	headers := publisherToken(token)
	headers["Correlation-Id"] = "walkthrough-1"
	r := f.api(http.MethodPost, "/purchases/transfers", headers, `{"cleengCustomerId": 910000003, "transactionId": "3100000000000012"}`)
	if r.status != http.StatusAccepted || r.str("synchronizationId") != "walkthrough-1" {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	if res := f.waitFinalized(token, "walkthrough-1"); res != string(transfer.ResultTransferred) {
		t.Fatalf("transfer result %s", res)
	}

	// bin/transferctl --local purchase show --publisher 555000001 3100000000000012
	shown := f.ok("purchase", "show", "--publisher", "555000001", "3100000000000012").stdout
	for _, row := range [][]string{
		{"Purchase (originalTransactionId)", "3100000000000011"},
		{"Transaction ids", "3100000000000011, 3100000000000012, 3100000000000013"},
		{"Owner (cleengCustomerId)", "910000003"},
		{"State", "active", "(transferable)"},
		{"Ownership history (oldest first):"},
	} {
		if !hasRow(shown, row...) {
			t.Errorf("purchase show lacks the row %q:\n%s", row, shown)
		}
	}
	if !strings.Contains(shown, "910000001  910000003  walkthrough-1") {
		t.Errorf("purchase show lacks the history entry:\n%s", shown)
	}
	type historyRow struct {
		From              int64  `json:"fromCustomerId"`
		To                int64  `json:"toCustomerId"`
		SynchronizationID string `json:"synchronizationId"`
	}
	var purchase struct {
		Owner   int64        `json:"cleengCustomerId"`
		Version int64        `json:"version"`
		History []historyRow `json:"history"`
	}
	f.okJSON(&purchase, "purchase", "show", "--publisher", "555000001", "3100000000000011")
	if purchase.Owner != 910000003 || purchase.Version != 1 || len(purchase.History) != 1 ||
		purchase.History[0] != (historyRow{910000001, 910000003, "walkthrough-1"}) {
		t.Errorf("purchase show --json: %+v", purchase)
	}

	// bin/transferctl --local sync show --publisher 555000001 walkthrough-1
	syncShown := f.ok("sync", "show", "--publisher", "555000001", "walkthrough-1").stdout
	for _, row := range [][]string{
		{"Status", "finalized"}, {"Result", "PURCHASE_OWNERSHIP_TRANSFERRED"}, {"Access granted", "yes"},
		{"Previous owner", "910000001"}, {"Correlation-Id", "walkthrough-1"},
	} {
		if !hasRow(syncShown, row...) {
			t.Errorf("sync show lacks the row %q:\n%s", row, syncShown)
		}
	}
	var syncJSON syncView
	f.okJSON(&syncJSON, "sync", "show", "--publisher", "555000001", "walkthrough-1")
	if syncJSON.Result != transfer.ResultTransferred || syncJSON.AccessGranted == nil || !*syncJSON.AccessGranted ||
		syncJSON.PreviousOwner != 910000001 || syncJSON.FinalizedAt == nil || syncJSON.TookSeconds == nil {
		t.Errorf("sync show --json: %+v", syncJSON)
	}

	// bin/transferctl --local customer show --publisher 555000001 910000003
	// (the byOwner index is eventually consistent: poll)
	testkit.Eventually(t, "customer show to list the transferred purchase", 10*time.Second, func() bool {
		return strings.Contains(f.ok("customer", "show", "--publisher", "555000001", "910000003").stdout, "3100000000000011")
	})
	if out := f.ok("customer", "show", "--publisher", "555000001", "910000001").stdout; strings.Contains(out, "3100000000000011") {
		t.Errorf("the previous owner still lists the purchase:\n%s", out)
	}

	for _, args := range [][]string{
		{"purchase", "show", "--publisher", "555000001", "3199999999999999"},
		{"sync", "show", "--publisher", "555000001", "no-such-sync"},
		{"customer", "show", "--publisher", "555000001", "1"},
		{"purchase", "show", "--publisher", "42", "3100000000000011"}, // another tenant sees nothing
	} {
		if r := f.ctl(args...); r.code != exitFailed {
			t.Errorf("transferctl %s: want exit 1, got %v", strings.Join(args, " "), r)
		}
	}
}

func TestDeadLetterRedriveFinishesTheTransfer(t *testing.T) {
	f := newFixture(t, withFastRetries(2))
	id, token := f.createPublisher()
	pid := fmt.Sprint(id)
	f.importJSON(id, "../../examples/purchases.jsonl", exitOK)

	// A processor that fails every delivery without touching the record, as
	// an outage would: the job is dead-lettered while still unfinished.
	failing := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, fmt.Errorf("outage")
	}
	stopFailing := f.startProcessor(failing)
	sync := f.transfer(token, 910000003, "3100000000000001")

	var letters []deadLetter
	testkit.Eventually(t, "the job to be dead-lettered", 30*time.Second, func() bool {
		letters = nil
		f.okJSON(&letters, "dlq", "list")
		return len(letters) == 1
	})
	stopFailing()
	l := letters[0]
	if l.Queue != "transfer" || l.SynchronizationID != sync || l.PublisherID != id || !strings.Contains(l.Reason, "not finalized") || l.SentAt.IsZero() {
		t.Fatalf("dead letter: %+v", l)
	}
	table := f.ok("dlq", "list").stdout
	if !strings.Contains(table, sync) || !strings.Contains(table, "redrive to finish it") {
		t.Errorf("dlq list table:\n%s", table)
	}
	// Listing does not consume.
	f.okJSON(&letters, "dlq", "list")
	if len(letters) != 1 {
		t.Fatalf("listing twice: %d messages", len(letters))
	}

	// Redrive only another synchronization's messages: nothing moves.
	if r := f.ok("dlq", "redrive", "transfer", "--sync", "someone-else"); !strings.Contains(r.stdout, "Redrove 0") {
		t.Fatalf("redrive with a filter: %v", r)
	}
	f.startProcessor(nil)
	if r := f.ok("dlq", "redrive", "transfer"); !strings.Contains(r.stdout, "Redrove 1") {
		t.Fatalf("redrive: %v", r)
	}
	if res := f.waitFinalized(token, sync); res != string(transfer.ResultTransferred) {
		t.Fatalf("after redrive the transfer finished with %s", res)
	}
	f.okJSON(&letters, "dlq", "list")
	if len(letters) != 0 {
		t.Fatalf("dead letters left after redrive: %+v", letters)
	}
	got, err := f.svc.Stores.Operator.Purchase(context.Background(), id, "3100000000000001")
	if err != nil || got.Owner != 910000003 {
		t.Fatalf("purchase after redrive: %+v %v", got, err)
	}
	if r := f.ok("sync", "show", "--publisher", pid, sync); !strings.Contains(r.stdout, "PURCHASE_OWNERSHIP_TRANSFERRED") {
		t.Errorf("sync show after redrive: %v", r)
	}
}

func TestCustomerJWTIsAcceptedByTheAPI(t *testing.T) {
	f := newFixture(t)
	id, _ := f.createPublisher()
	f.importJSON(id, "../../examples/purchases.jsonl", exitOK)
	r := f.ok("token", "--publisher", fmt.Sprint(id), "--customer", "910000002")
	jwt := strings.TrimSpace(r.stdout)
	if strings.Count(jwt, ".") != 2 || !strings.Contains(r.stderr, "Development aid") {
		t.Fatalf("token output: %v", r)
	}
	resp := f.api(http.MethodPost, "/purchases/transfers",
		map[string]string{"Authorization": "Bearer " + jwt, "Content-Type": "application/json"},
		`{"cleengCustomerId": 910000002, "transactionId": "3100000000000001"}`)
	if resp.status != http.StatusAccepted {
		t.Fatalf("transfer with the minted JWT: %d %s", resp.status, resp.raw)
	}
	// The JWT is the customer's own: another target is forbidden.
	resp = f.api(http.MethodPost, "/purchases/transfers",
		map[string]string{"Authorization": "Bearer " + jwt, "Content-Type": "application/json"},
		`{"cleengCustomerId": 910000003, "transactionId": "3100000000000031"}`)
	if resp.status != http.StatusForbidden {
		t.Fatalf("transfer to another customer with the JWT: %d %s", resp.status, resp.raw)
	}
}

// TestDemoSeedIsInspectable covers make run's seed, which goes through the
// same operator code as the CLI, and the walk-through's inspection commands.
func TestDemoSeedIsInspectable(t *testing.T) {
	f := newFixture(t)
	seeded, err := demoseed.Seed(context.Background(), f.svc.Stores.Operator, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(seeded.PublisherToken, fmt.Sprintf("pt_%d_", demoseed.PublisherID)) {
		t.Fatalf("demo token %q", seeded.PublisherToken)
	}
	pid := fmt.Sprint(demoseed.PublisherID)
	shown := f.ok("purchase", "show", "--publisher", pid, demoseed.TxChain2).stdout
	if !strings.Contains(shown, demoseed.TxChain1+", "+demoseed.TxChain2) || !strings.Contains(shown, fmt.Sprint(demoseed.CustomerA)) {
		t.Errorf("demo chain:\n%s", shown)
	}
	expired := f.ok("purchase", "show", "--publisher", pid, demoseed.TxExpired).stdout
	if !strings.Contains(expired, "expired (not transferable now)") {
		t.Errorf("demo expired purchase:\n%s", expired)
	}
	var listed []operator.PublisherInfo
	f.okJSON(&listed, "publisher", "list")
	if len(listed) != 4 {
		t.Errorf("demo publishers: %+v", listed)
	}
	other := f.ok("customer", "show", "--publisher", fmt.Sprint(demoseed.OtherPublisherID), fmt.Sprint(demoseed.OtherCustomer)).stdout
	if !strings.Contains(other, demoseed.TxOther) {
		t.Errorf("the other publisher's customer:\n%s", other)
	}
}

// hasRow tells whether out has a line made of exactly these cells (compared
// word by word, whatever the table's column padding).
func hasRow(out string, cells ...string) bool {
	want := strings.Join(strings.Fields(strings.Join(cells, " ")), " ")
	for _, line := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(line), " ") == want {
			return true
		}
	}
	return false
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestProgressOnATerminalRedrawsOneLine(t *testing.T) {
	var buf bytes.Buffer
	bar := &progressBar{w: &buf, name: "x", terminal: true}
	bar.update(operator.Progress{Lines: 500, Bytes: 50, TotalBytes: 100, Elapsed: time.Second})
	bar.finish()
	out := buf.String()
	if !strings.HasPrefix(out, "\r") || !strings.Contains(out, "[============            ]") ||
		!strings.Contains(out, "50% 500 lines, 500 lines/s, ETA 1s") || strings.Count(out, "\n") != 1 {
		t.Fatalf("terminal progress: %q", out)
	}
}

// TestEnvironmentAloneLocatesTheService: after `source .local/run.env`, or
// with the variables of a deployment, no flag is needed.
func TestEnvironmentAloneLocatesTheService(t *testing.T) {
	f := newFixture(t)
	id, _ := f.createPublisher()
	for k, v := range stack.Env() {
		t.Setenv(k, v)
	}
	t.Setenv(settingTable, f.res.Table)
	t.Setenv(settingPublisher, fmt.Sprint(id))
	t.Setenv("AWS_PROFILE", "")
	if r := runCtl("publisher", "list"); r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprint(id)) {
		t.Fatalf("publisher list from the environment: %v", r)
	}
	// PUBLISHER_ID is the default --publisher.
	if r := runCtl("import", "../../examples/purchases.jsonl"); r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("into publisher %d", id)) {
		t.Fatalf("import into PUBLISHER_ID: %v", r)
	}
	t.Setenv(settingTable, "")
	if r := runCtl("publisher", "list"); r.code != exitFailed || !strings.Contains(r.stderr, "TABLE_NAME is not known") {
		t.Fatalf("without TABLE_NAME: %v", r)
	}
}
