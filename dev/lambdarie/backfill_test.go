//go:build linux

package lambdarie_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/purchase-transfer/dev/appstoresim"
	"github.com/acme/purchase-transfer/dev/lambdarie"
	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/webhook"
)

// The scheduled backfill's bootstrap, invoked as EventBridge Scheduler
// invokes it (an empty JSON object): it reads the sealing key from Secrets
// Manager, lists the publishers, opens the deployment publisher's sealed App
// Store Connect key and asks the App Store Server API stand-in with a bearer
// token the stand-in accepts, once per environment of the app, and returns
// its counts. Then a history with a notification signed under a local test
// root: the bootstrap trusts Apple's root alone, so the page is refused and
// the invocation fails (what the Errors alarm counts), with nothing recorded.
func TestAppleBackfillUnderLambda(t *testing.T) {
	d := newDeployment(t, "")
	ctx := context.Background()
	_, sealing := webhook.NewSealingKey()
	secretID := "rie/sealing-" + strconv.FormatInt(randomID(), 10)
	if err := stack.PutSecret(ctx, secretID, sealing); err != nil {
		t.Fatal(err)
	}
	priv, p8, err := appstoresim.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	issuer, keyID := "1e5c7a52-3b0d-4c6e-8f21-9a0b1c2d3e4f", strings.ToUpper(rand.Text()[:10])
	keys := appstoreapi.NewKeys(d.store, webhook.NewRotatingSealer(config.SealingKeys(ctx, stack.Clients.SecretsManager, secretID)))
	if _, err := keys.Set(ctx, d.publisher, issuer, keyID, p8); err != nil {
		t.Fatal(err)
	}
	root, err := localroot.New()
	if err != nil {
		t.Fatal(err)
	}
	sim := appstoresim.New(root, appstoresim.App{BundleID: "com.example.rie", AppAppleID: 1234567890, Environment: apple.EnvironmentSandbox})
	sim.AddKey(issuer, keyID, &priv.PublicKey)
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)

	fn, err := stack.Template.Function("AppleBackfillFunction")
	if err != nil {
		t.Fatal(err)
	}
	// As the template's LoggingConfig makes Lambda set them.
	env := merge(fn.Environment, map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"})
	overrides := map[string]string{"TABLE_NAME": d.res.Table, "WEBHOOK_SEALING_KEY_SECRET_ID": secretID, "APPLE_API_BASE_URL": api.URL}
	for k, v := range stack.Env() {
		if strings.HasPrefix(k, "AWS_ENDPOINT_URL_") {
			overrides[k] = v // the emulators, where the template declares "" (AWS's own)
		} else {
			env[k] = v // region and dummy credentials, as Lambda provides them
		}
	}
	for name, v := range overrides {
		if _, declared := fn.Environment[name]; !declared {
			t.Fatalf("template.yaml does not declare %s for AppleBackfillFunction", name)
		}
		env[name] = v
	}
	f, err := lambdarie.Start(ctx, lambdarie.Config{RIE: rieBinary, Bootstrap: filepath.Join(bootstraps, "applebackfill", "bootstrap"),
		Name: fn.LogicalID, Timeout: time.Duration(fn.TimeoutSeconds) * time.Second, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Stop()
		if t.Failed() {
			t.Logf("--- output ---\n%s", f.Output())
		}
	})

	raw, err := f.Invoke(ctx, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var rep appstore.ScheduledReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
	// The deployment's publisher, its app in both environments (both at the
	// stand-in, which APPLE_API_BASE_URL replaces Apple's two hosts with).
	if rep.Publishers != 1 || rep.WithoutKey != 0 || rep.Backfills != 2 || rep.Failed != 0 || rep.Notifications.Pages != 2 {
		t.Errorf("report = %s", raw)
	}
	if n := sim.Requests(); n != 2 {
		t.Errorf("the stand-in served %d requests, want 2 (one page per environment, tokens accepted)", n)
	}
	if !jsonLogLine.MatchString(f.Output()) {
		t.Errorf("no JSON log line with a requestId:\n%s", f.Output())
	}

	if _, err := sim.AddNotification(apple.TypeTest, "", "", time.Now().Add(-time.Hour), false); err != nil {
		t.Fatal(err)
	}
	// The bootstrap reports an invocation error to the runtime API, which
	// RIE hands back as the answer (errorMessage, errorType) and Lambda
	// counts in Errors.
	raw, _ = f.Invoke(ctx, []byte(`{}`))
	var failed struct{ ErrorMessage, ErrorType string }
	if err := json.Unmarshal(raw, &failed); err != nil || !strings.Contains(failed.ErrorMessage, "2 of 2 backfill(s) failed") {
		t.Errorf("a history signed under another root than Apple's: %s; want the invocation failed", raw)
	}
	out, err := stack.Clients.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: &d.res.Table})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range out.Items {
		if sk, ok := item["sk"].(*dynamotypes.AttributeValueMemberS); ok && sk.Value == "NOTIFICATION" {
			t.Errorf("a refused notification was recorded: %v", item)
		}
	}
	if !strings.Contains(f.Output(), "apple backfill of a publisher failed") {
		t.Errorf("the failure is not logged:\n%s", f.Output())
	}
}
