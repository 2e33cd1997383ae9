package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/acme/purchase-transfer/dev/appstoresim"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/webhook"
)

const (
	testIssuerID = "57246542-96fe-1a63-e053-0824d011072a"
	testKeyID    = "2X9R4HXF34"
)

// newP8 is a fresh App Store Connect key file and its key.
func newP8(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	priv, p8, err := appstoresim.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return priv, string(p8)
}

// appleKeyShown is `publisher apple show --json`'s key.
type appleKeyShown struct {
	Apple *struct {
		BundleID string `json:"bundleId"`
	} `json:"apple"`
	Key *struct {
		IssuerID string `json:"issuerId"`
		KeyID    string `json:"keyId"`
	} `json:"appStoreConnectKey"`
}

// TestPublisherAppleKey: the key is stored sealed, opens for its publisher, is shown by its
// ids and never printed back; setting it alone keeps the app, setting the app alone keeps the
// key; bad input is a usage error that changes nothing.
func TestPublisherAppleKey(t *testing.T) {
	f := newFixture(t)
	f.withSealingKey()
	id, _ := f.createPublisher("--id", "555000011")
	pid := fmt.Sprint(id)
	f.ok("publisher", "apple", "set", "--publisher", pid, "--bundle-id", "com.example.app", "--environments", "Sandbox")
	priv, p8 := newP8(t)
	file := f.writeFile("key.p8", p8)
	body := strings.Split(p8, "\n")[1] // a line of the key's base64

	out := f.ok("publisher", "apple", "set", "--publisher", pid, "--issuer", testIssuerID, "--key-id", testKeyID, "--private-key-file", file)
	if !strings.Contains(out.stdout, "set: key "+testKeyID+" of issuer "+testIssuerID+" (since ") || !hasRow(out.stdout, "Bundle id", "com.example.app") {
		t.Errorf("set the key alone:\n%s", out.stdout)
	}
	var shown appleKeyShown
	f.okJSON(&shown, "publisher", "apple", "show", "--publisher", pid)
	if shown.Key == nil || shown.Key.KeyID != testKeyID || shown.Key.IssuerID != testIssuerID || shown.Apple == nil {
		t.Errorf("show --json: %+v", shown)
	}
	// The app set again without the key flags keeps the key.
	f.ok("publisher", "apple", "set", "--publisher", pid, "--bundle-id", "com.example.other", "--environments", "Sandbox")
	f.okJSON(&shown, "publisher", "apple", "show", "--publisher", pid)
	if shown.Key == nil || shown.Apple.BundleID != "com.example.other" {
		t.Errorf("after setting the app alone: %+v", shown)
	}

	// At rest: sealed, nowhere in clear in the table; it opens with the sealing key, bound to
	// this publisher.
	dump := f.tableDump()
	if !strings.Contains(dump, testKeyID) {
		t.Fatal("the table dump lacks the key's item")
	}
	if strings.Contains(dump, body[:20]) {
		t.Error("the private key is in the table in clear")
	}
	store, err := f.store()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := f.sealer()
	if err != nil {
		t.Fatal(err)
	}
	k, err := appstoreapi.NewKeys(store, sealer).Open(context.Background(), id, "com.example.other")
	if err != nil || !k.Private.Equal(priv) {
		t.Fatalf("Open = %v", err)
	}

	// Never printed back, whatever the output.
	for _, args := range [][]string{
		{"publisher", "apple", "show", "--publisher", pid}, {"--json", "publisher", "apple", "show", "--publisher", pid},
		{"publisher", "show", pid}, {"--json", "publisher", "show", pid},
	} {
		if r := f.ok(args...); strings.Contains(r.stdout+r.stderr, body[:20]) {
			t.Errorf("%v prints the key", args)
		}
	}

	// Bad input: exit 2, nothing changed.
	_, otherP8 := newP8(t)
	other := f.writeFile("other.p8", otherP8)
	notKey := f.writeFile("not.p8", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	for name, args := range map[string][]string{
		"key id without the rest": {"--key-id", "AAAAAAAAAA"},
		"no file":                 {"--issuer", testIssuerID, "--key-id", "AAAAAAAAAA"},
		"a bad issuer":            {"--issuer", "nope", "--key-id", "AAAAAAAAAA", "--private-key-file", other},
		"a bad key id":            {"--issuer", testIssuerID, "--key-id", "short", "--private-key-file", other},
		"not a key":               {"--issuer", testIssuerID, "--key-id", "AAAAAAAAAA", "--private-key-file", notKey},
		"a missing file":          {"--issuer", testIssuerID, "--key-id", "AAAAAAAAAA", "--private-key-file", file + ".missing"},
	} {
		r := f.ctl(append([]string{"publisher", "apple", "set", "--publisher", pid}, args...)...)
		if r.code != exitUsage {
			t.Errorf("%s: %v, want exit %d", name, r, exitUsage)
		}
		if strings.Contains(r.stderr, "BEGIN") {
			t.Errorf("%s: the error quotes the file: %s", name, r.stderr)
		}
	}
	f.okJSON(&shown, "publisher", "apple", "show", "--publisher", pid)
	if shown.Key == nil || shown.Key.KeyID != testKeyID {
		t.Errorf("a refused set changed the key: %+v", shown)
	}
	// An unknown publisher: nothing stored.
	if r := f.ctl("publisher", "apple", "set", "--publisher", "555000099", "--issuer", testIssuerID, "--key-id", testKeyID, "--private-key-file", other); r.code != exitFailed ||
		!strings.Contains(r.stderr, "publisher create") {
		t.Errorf("key of an unknown publisher: %v", r)
	}
	if got, _ := store.AppStoreKey(context.Background(), 555000099); got != nil {
		t.Error("a key was stored for an unknown publisher")
	}
}

// Without the sealing key the key cannot be stored, and nothing is.
func TestPublisherAppleKeyNeedsTheSealingKey(t *testing.T) {
	f := newFixture(t)
	id, _ := f.createPublisher("--id", "555000012")
	_, p8 := newP8(t)
	r := f.ctl("publisher", "apple", "set", "--publisher", fmt.Sprint(id), "--issuer", testIssuerID, "--key-id", testKeyID,
		"--private-key-file", f.writeFile("key.p8", p8))
	if r.code != exitFailed || !strings.Contains(r.stderr, "WEBHOOK_SEALING_KEY_SECRET_ID") {
		t.Errorf("without a sealing key: %v", r)
	}
	store, err := f.store()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := store.AppStoreKey(context.Background(), id); got != nil {
		t.Error("a key was stored")
	}
}

// store and sealer are what transferctl --local reaches.
func (f *fixture) store() (keyStore, error) {
	a := newApp(&bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	a.localFile = f.envFile
	c, err := a.connect(context.Background())
	if err != nil {
		return nil, err
	}
	s, err := c.store()
	if err != nil {
		return nil, err
	}
	return s.operator, nil
}

func (f *fixture) sealer() (*webhook.Sealer, error) {
	a := newApp(&bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	a.localFile = f.envFile
	return a.sealer(context.Background())
}

type keyStore = appstoreapi.KeyStore

// tableDump is every item of the fixture's table as JSON (binary values in
// base64, as the .p8's own body is).
func (f *fixture) tableDump() string {
	f.t.Helper()
	items, err := stack.Clients.DynamoDB.Scan(context.Background(), scanInput(f.res.Table))
	if err != nil {
		f.t.Fatal(err)
	}
	var all []map[string]any
	if err := attributevalue.UnmarshalListOfMaps(items.Items, &all); err != nil {
		f.t.Fatal(err)
	}
	b, err := json.Marshal(all)
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

// TestPublisherVerifyWithApple: the switch alone keeps the app; it is refused (and nothing
// changes) while the publisher has no App Store Connect key; show prints it.
func TestPublisherVerifyWithApple(t *testing.T) {
	f := newFixture(t)
	f.withSealingKey()
	id, _ := f.createPublisher("--id", "555000012")
	pid := fmt.Sprint(id)
	f.ok("publisher", "apple", "set", "--publisher", pid, "--bundle-id", "com.example.app", "--environments", "Sandbox")
	type shownSwitch struct {
		VerifyWithApple bool `json:"verifyWithApple"`
		Apple           *struct {
			BundleID string `json:"bundleId"`
		} `json:"apple"`
	}
	var shown shownSwitch

	if r := f.ctl("publisher", "apple", "set", "--publisher", pid, "--verify-with-apple"); r.code == exitOK || !strings.Contains(r.stderr, "App Store Connect key") {
		t.Errorf("turned on without a key: %v", r)
	}
	f.okJSON(&shown, "publisher", "apple", "show", "--publisher", pid)
	if shown.VerifyWithApple {
		t.Error("a refused --verify-with-apple was stored")
	}

	_, p8 := newP8(t)
	f.ok("publisher", "apple", "set", "--publisher", pid, "--issuer", testIssuerID, "--key-id", testKeyID, "--private-key-file", f.writeFile("key.p8", p8))
	out := f.ok("publisher", "apple", "set", "--publisher", pid, "--verify-with-apple")
	if !hasRow(out.stdout, "Verify with Apple", "yes") || !hasRow(out.stdout, "Bundle id", "com.example.app") {
		t.Errorf("turned on alone:\n%s", out.stdout)
	}
	f.okJSON(&shown, "publisher", "apple", "show", "--publisher", pid)
	if !shown.VerifyWithApple || shown.Apple == nil || shown.Apple.BundleID != "com.example.app" {
		t.Errorf("show --json after turning it on: %+v", shown)
	}
	// Setting the app again leaves the switch as it is; =false turns it off.
	f.ok("publisher", "apple", "set", "--publisher", pid, "--bundle-id", "com.example.other", "--environments", "Sandbox")
	if f.okJSON(&shown, "publisher", "apple", "show", "--publisher", pid); !shown.VerifyWithApple {
		t.Error("setting the app turned verifyWithApple off")
	}
	f.ok("publisher", "apple", "set", "--publisher", pid, "--verify-with-apple=false")
	if f.okJSON(&shown, "publisher", "apple", "show", "--publisher", pid); shown.VerifyWithApple || shown.Apple.BundleID != "com.example.other" {
		t.Errorf("after --verify-with-apple=false: %+v", shown)
	}
}
