package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// appleShown is `publisher apple show --json`.
type appleShown struct {
	PublisherID              transfer.PublisherID   `json:"publisherId"`
	RequireSignedTransaction bool                   `json:"requireSignedTransaction"`
	Apple                    *operator.AppleAppInfo `json:"apple"`
}

// TestPublisherAppleSetAndShow: set stores the whole app and, when given,
// requireSignedTransaction, on the publisher item the request path reads;
// publisher create/set leave them alone; mistakes change nothing.
func TestPublisherAppleSetAndShow(t *testing.T) {
	f := newFixture(t)
	id, _ := f.createPublisher("--id", "555000001")
	pid := fmt.Sprint(id)
	ctx := context.Background()

	// Not configured yet.
	if out := f.ok("publisher", "apple", "show", "--publisher", pid).stdout; !hasRow(out, "Apple app", "none", "(transferctl", "publisher", "apple", "set)") ||
		!hasRow(out, "Require signed transaction", "no") {
		t.Errorf("apple show before set:\n%s", out)
	}
	shown := f.appleShow(pid)
	if shown.PublisherID != id || shown.Apple != nil || shown.RequireSignedTransaction {
		t.Errorf("apple show --json before set: %+v", shown)
	}
	if out := f.ok("publisher", "show", pid).stdout; !hasRow(out, "Apple app", "none") {
		t.Errorf("publisher show before set:\n%s", out)
	}

	set := f.ok("publisher", "apple", "set", "--publisher", pid, "--bundle-id", "com.example.app", "--app-apple-id", "1234567890",
		"--offer", "com.example.monthly=S1_US", "--offer", "com.example.yearly=S2_US", "--require-signed-transaction=true").stdout
	for _, row := range [][]string{
		{"Bundle id", "com.example.app"}, {"App Apple id", "1234567890"}, {"Environments", "Production, Sandbox"},
		{"Offers", "2"}, {"Require signed transaction", "yes"}, {"com.example.monthly", "S1_US"}, {"com.example.yearly", "S2_US"},
	} {
		if !hasRow(set, row...) {
			t.Errorf("apple set output lacks %q:\n%s", row, set)
		}
	}
	shown = f.appleShow(pid)
	if !shown.RequireSignedTransaction || shown.Apple == nil || shown.Apple.BundleID != "com.example.app" || shown.Apple.AppAppleID != 1234567890 ||
		!slices.Equal(shown.Apple.Environments, []string{"Production", "Sandbox"}) || len(shown.Apple.Offers) != 2 || shown.Apple.Offers["com.example.yearly"] != "S2_US" {
		t.Errorf("apple show --json after set: %+v", shown)
	}
	if out := f.ok("publisher", "show", pid).stdout; !hasRow(out, "Apple app", "com.example.app", "(appAppleId", "1234567890;", "Production,", "Sandbox;", "2", "offer(s))") ||
		!hasRow(out, "Require signed transaction", "yes") {
		t.Errorf("publisher show after set:\n%s", out)
	}
	var info operator.PublisherInfo
	f.okJSON(&info, "publisher", "show", pid)
	if info.Apple == nil || info.Apple.BundleID != "com.example.app" || !info.RequireSignedTransaction {
		t.Errorf("publisher show --json after set: %+v", info)
	}
	// What the request path reads.
	lookup, err := f.svc.Stores.Directory.Lookup(ctx, transfer.LookupKeys{Publisher: id})
	if err != nil || lookup.Publisher == nil || lookup.Publisher.Apple == nil || !lookup.Publisher.RequireSignedTransaction ||
		lookup.Publisher.Apple.Offers["com.example.monthly"] != "S1_US" || !lookup.Publisher.Apple.Accepts(transfer.EnvironmentProduction) {
		t.Fatalf("directory lookup after set: %+v %v", lookup.Publisher, err)
	}

	// publisher set changes only its own fields.
	f.ok("publisher", "set", pid, "--migration=true", "--name", "Renamed")
	shown = f.appleShow(pid)
	if shown.Apple == nil || len(shown.Apple.Offers) != 2 || !shown.RequireSignedTransaction {
		t.Errorf("publisher set touched the Apple app: %+v", shown)
	}

	// set replaces the whole app; requireSignedTransaction not given stays.
	f.ok("publisher", "apple", "set", "--publisher", pid, "--bundle-id", "com.example.other", "--environments", "sandbox")
	shown = f.appleShow(pid)
	if !shown.RequireSignedTransaction || shown.Apple == nil || shown.Apple.BundleID != "com.example.other" || shown.Apple.AppAppleID != 0 ||
		!slices.Equal(shown.Apple.Environments, []string{"Sandbox"}) || len(shown.Apple.Offers) != 0 {
		t.Errorf("second set: %+v", shown)
	}
	if out := f.ok("publisher", "apple", "show", "--publisher", pid).stdout; !hasRow(out, "App Apple id", "-") || !hasRow(out, "Offers", "0") {
		t.Errorf("apple show without offers:\n%s", out)
	}
	f.ok("publisher", "apple", "set", "--publisher", pid, "--bundle-id", "com.example.other", "--environments", "Sandbox", "--require-signed-transaction=false")
	item := f.rawItem("PUB#"+pid, "PUBLISHER")
	if _, stored := item["requireSignedTransaction"]; stored {
		t.Errorf("a false requireSignedTransaction is stored: %v", item)
	}
	if _, ok := item["apple"]; !ok || item["name"] == nil {
		t.Errorf("publisher item after set: %v", item)
	}

	// Mistakes: exit 2 for the rules, 1 for an unknown publisher; nothing changes.
	for _, args := range [][]string{
		{"--publisher", pid},
		{"--publisher", pid, "--bundle-id", "com.example.app"}, // Production (the default) needs --app-apple-id
		{"--publisher", pid, "--bundle-id", "com.example.app", "--environments", "Production"},
		{"--publisher", pid, "--bundle-id", "com.example.app", "--app-apple-id", "1", "--environments", "Staging"},
		{"--publisher", pid, "--bundle-id", "com.example.app", "--app-apple-id", "1", "--offer", "no-offer"},
		{"--publisher", pid, "--bundle-id", "bad id", "--app-apple-id", "1"},
	} {
		if r := f.ctl(append([]string{"publisher", "apple", "set"}, args...)...); r.code != exitUsage {
			t.Errorf("apple set %s: want exit 2, got %v", strings.Join(args, " "), r)
		}
	}
	if r := f.ctl("publisher", "apple", "set", "--publisher", "42", "--bundle-id", "com.example.app", "--app-apple-id", "1"); r.code != exitFailed ||
		!strings.Contains(r.stderr, "no publisher has this id") {
		t.Errorf("apple set on an unknown publisher: %v", r)
	}
	if r := f.ctl("publisher", "apple", "show", "--publisher", "42"); r.code != exitFailed {
		t.Errorf("apple show of an unknown publisher: %v", r)
	}
	if f.rawItem("PUB#42", "PUBLISHER") != nil {
		t.Error("apple set created a publisher")
	}
	shown = f.appleShow(pid)
	if shown.Apple == nil || shown.Apple.BundleID != "com.example.other" {
		t.Errorf("a refused set changed the app: %+v", shown)
	}
}

// appleShow runs publisher apple show --json.
func (f *fixture) appleShow(pid string) appleShown {
	f.t.Helper()
	var shown appleShown
	f.okJSON(&shown, "publisher", "apple", "show", "--publisher", pid)
	return shown
}

// rawItem reads an item of the fixture's table as stored; nil when absent.
func (f *fixture) rawItem(pk, sk string) map[string]any {
	f.t.Helper()
	out, err := stack.Clients.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &f.res.Table,
		Key:       keyOf(pk, sk),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if out.Item == nil {
		return nil
	}
	item := map[string]any{}
	for k, v := range out.Item {
		item[k] = v
	}
	return item
}

func keyOf(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}
