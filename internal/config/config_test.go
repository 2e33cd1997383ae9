package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/acme/purchase-transfer/dev/samtemplate"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// reader is a function's configuration reader, its result dropped.
type reader func(getenv func(string) string) error

func readerOf[T any](read func(func(string) string) (T, error)) reader {
	return func(getenv func(string) string) error {
		_, err := read(getenv)
		return err
	}
}

// readers maps each function of template.yaml to the reader its main calls.
var readers = map[string]reader{
	"TransferFunction":           readerOf(config.ReadTransfer),
	"StatusFunction":             readerOf(config.ReadStatus),
	"AppleNotificationsFunction": readerOf(config.ReadAppleNotifications),
	"ProcessorFunction":          readerOf(config.ReadProcessor),
	"SweeperFunction":            readerOf(config.ReadSweeper),
	"WebhookFunction":            readerOf(config.ReadWebhook),
	"AppleBackfillFunction":      readerOf(config.ReadAppleBackfill),
}

// A variable a function reads but the template does not declare is unset in
// AWS; one the template declares but nothing reads misleads whoever tunes it.
func TestReadersReadWhatTheTemplateDeclares(t *testing.T) {
	tpl, _ := repoTemplate(t)
	if len(tpl.Functions) == 0 {
		t.Fatal("the template declares no function")
	}
	for _, fn := range tpl.Functions {
		read, ok := readers[fn.LogicalID]
		if !ok {
			t.Errorf("%s has no reader in this test: add the one its main calls", fn.LogicalID)
			continue
		}
		var names []string
		record := func(name string) string {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
			return ""
		}
		// Besides these, a function reads only what Lambda itself provides
		// (AWS_REGION, the role's credentials): config.AWS.
		_ = read(record)
		slices.Sort(names)
		if declared := fn.EnvironmentNames(); !slices.Equal(names, declared) {
			t.Errorf("%s reads %v; template.yaml declares %v", fn.LogicalID, names, declared)
		}
	}
}

func TestReadersRefuseABadEnvironment(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(name string) string { return vars[name] }
	}
	_, err := config.ReadTransfer(env(map[string]string{"LOCK_LEASE_SECONDS": "soon"}))
	for _, want := range []string{"TABLE_NAME is required", "TRANSFER_QUEUE_URL is required", "LOCK_LEASE_SECONDS"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadTransfer error %v does not mention %q", err, want)
		}
	}
	if _, err := config.ReadProcessor(env(map[string]string{"TABLE_NAME": "t", "MAX_RECEIVE_COUNT": "0"})); err == nil {
		t.Error("ReadProcessor accepted MAX_RECEIVE_COUNT=0")
	}
	cfg, err := config.ReadStatus(env(map[string]string{"TABLE_NAME": "t", "BASE_PATH": "/storekit2", "AUTH_CACHE_TTL_SECONDS": "0"}))
	if err != nil || cfg.BasePath != "/storekit2" || cfg.AuthCacheTTL != 0 || cfg.TableName != "t" {
		t.Errorf("ReadStatus = %+v, %v", cfg, err)
	}
}

// sam local --env-vars sets only variables the template declares and drops
// the others without a word: every name in docs/env.local.json must be
// declared, for the function it is listed under ("Parameters": any).
func TestLocalEnvFileNamesDeclaredVariables(t *testing.T) {
	tpl, path := repoTemplate(t)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(path), "docs", "env.local.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]map[string]string
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("docs/env.local.json: %v", err)
	}
	declaredBy := func(fn, name string) bool {
		for _, f := range tpl.Functions {
			if _, ok := f.Environment[name]; ok && (fn == "Parameters" || fn == f.LogicalID) {
				return true
			}
		}
		return false
	}
	if len(file["Parameters"]) == 0 {
		t.Error("docs/env.local.json sets no Parameters")
	}
	for fn, vars := range file {
		for name := range vars {
			if !declaredBy(fn, name) {
				t.Errorf("docs/env.local.json sets %s for %s, which template.yaml does not declare there: sam local would drop it", name, fn)
			}
		}
	}
}

// repoTemplate is the repository's template.yaml, and its path.
func repoTemplate(t *testing.T) (*samtemplate.Template, string) {
	t.Helper()
	path, err := samtemplate.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tpl, path
}

func TestReadersRefuseWeakJWTSettings(t *testing.T) {
	secretID := "purchase-transfer/dev/jwt-hs256"
	base := map[string]string{"TABLE_NAME": "t", "TRANSFER_QUEUE_URL": "http://127.0.0.1:9324/q"}
	read := func(vars map[string]string) (config.API, error) {
		env := func(name string) string {
			if v, ok := vars[name]; ok {
				return v
			}
			return base[name]
		}
		tc, tErr := config.ReadTransfer(env)
		sc, sErr := config.ReadStatus(env)
		if (tErr == nil) != (sErr == nil) || tc.API.Environment != sc.API.Environment {
			t.Errorf("%v: the transfer reader says %v, the status reader %v", vars, tErr, sErr)
		}
		return tc.API, tErr
	}
	tests := []struct {
		name string
		vars map[string]string
		want string // "" for accepted, else a part of the error
	}{
		{"no JWTs at all", map[string]string{}, ""},
		// The key's length is checked where it is read, in Secrets Manager
		// (auth.DecodeHS256Key, internal/secrets' tests).
		{"HS256 secret id", map[string]string{"JWT_HS256_SECRET_ID": secretID}, ""},
		{"https JWKS", map[string]string{"JWT_JWKS_URL": "https://id.example.com/.well-known/jwks.json"}, ""},
		{"http JWKS on loopback", map[string]string{"JWT_JWKS_URL": "http://127.0.0.1:8080/jwks"}, ""},
		{"http JWKS", map[string]string{"JWT_JWKS_URL": "http://id.example.com/.well-known/jwks.json"}, "JWT_JWKS_URL"},
		{"relative JWKS", map[string]string{"JWT_JWKS_URL": "/jwks"}, "JWT_JWKS_URL"},
		{"lifetime of an hour", map[string]string{"JWT_MAX_LIFETIME_SECONDS": "3600"}, ""},
		{"lifetime of zero", map[string]string{"JWT_MAX_LIFETIME_SECONDS": "0"}, "JWT_MAX_LIFETIME_SECONDS must be positive"},
		{"lifetime not a number", map[string]string{"JWT_MAX_LIFETIME_SECONDS": "1d"}, "JWT_MAX_LIFETIME_SECONDS"},
		{"CONFIG_ENV unknown", map[string]string{"CONFIG_ENV": "production"}, "CONFIG_ENV must be dev or prod"},
		{"dev, HS256 without issuer and audience", map[string]string{"CONFIG_ENV": "dev", "JWT_HS256_SECRET_ID": secretID}, ""},
		{"prod without JWTs", map[string]string{"CONFIG_ENV": "prod"}, ""},
		{"prod, HS256 with issuer and audience", map[string]string{"CONFIG_ENV": "prod", "JWT_HS256_SECRET_ID": secretID,
			"JWT_ISSUER": "https://id.example.com/", "JWT_AUDIENCE": "purchase-transfer"}, ""},
		{"prod, HS256 without audience", map[string]string{"CONFIG_ENV": "prod", "JWT_HS256_SECRET_ID": secretID,
			"JWT_ISSUER": "https://id.example.com/"}, "requires JWT_ISSUER and JWT_AUDIENCE"},
		{"prod, JWKS without issuer", map[string]string{"CONFIG_ENV": "prod", "JWT_JWKS_URL": "https://id.example.com/jwks",
			"JWT_AUDIENCE": "purchase-transfer"}, "requires JWT_ISSUER and JWT_AUDIENCE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(tc.vars)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v does not say %q", err, tc.want)
			}
		})
	}

	// What is read, and the defaults.
	c, err := read(map[string]string{"JWT_HS256_SECRET_ID": secretID, "JWT_MAX_LIFETIME_SECONDS": "3600"})
	if err != nil || c.JWT.MaxLifetime != time.Hour || c.Environment != config.EnvDev || c.HS256SecretID != secretID {
		t.Errorf("read %+v, %v; want a 1 h lifetime in dev", c, err)
	}
	c, err = read(map[string]string{"CONFIG_ENV": "prod"})
	if err != nil || c.JWT.MaxLifetime != 24*time.Hour || c.Environment != config.EnvProd {
		t.Errorf("read %+v, %v; want the 24 h default in prod", c, err)
	}
	// No variable holds the key: the old one is not read.
	if c, _ := read(map[string]string{"JWT_HS256_SECRET": "a-key-in-the-environment-32-bytes!"}); c.HS256SecretID != "" || c.JWT.HS256Secret != nil {
		t.Errorf("JWT_HS256_SECRET was read: %+v", c)
	}
}

// The template says prod by default, and its rule refuses what the readers
// refuse: customer JWTs in prod without an issuer and an audience.
func TestTemplateProdRule(t *testing.T) {
	tpl, path := repoTemplate(t)
	if got := tpl.Parameters["Environment"]; got != config.EnvProd {
		t.Errorf("the template's Environment defaults to %q, want prod", got)
	}
	for _, id := range []string{"TransferFunction", "StatusFunction"} {
		fn, err := tpl.Function(id)
		if err != nil {
			t.Fatal(err)
		}
		if fn.Environment["JWT_MAX_LIFETIME_SECONDS"] != "86400" || fn.Environment["CONFIG_ENV"] != config.EnvProd {
			t.Errorf("%s: JWT_MAX_LIFETIME_SECONDS=%q CONFIG_ENV=%q, want the parameters' defaults 86400 and prod",
				id, fn.Environment["JWT_MAX_LIFETIME_SECONDS"], fn.Environment["CONFIG_ENV"])
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rules map[string]yaml.Node `yaml:"Rules"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	rule, ok := doc.Rules["ProdJwtNeedsIssuerAndAudience"]
	if !ok {
		t.Fatal("template.yaml has no rule ProdJwtNeedsIssuerAndAudience")
	}
	text, _ := yaml.Marshal(&rule)
	for _, want := range []string{"RuleCondition", "Environment", "prod", "JwtHs256SecretId", "JwtJwksUrl", "Assertions", "JwtIssuer", "JwtAudience"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the rule does not mention %s:\n%s", want, text)
		}
	}
}

func TestReadTransferLimits(t *testing.T) {
	base := map[string]string{"TABLE_NAME": "t", "TRANSFER_QUEUE_URL": "q"}
	read := func(extra map[string]string) (config.Transfer, error) {
		return config.ReadTransfer(func(name string) string {
			if v, ok := extra[name]; ok {
				return v
			}
			return base[name]
		})
	}
	c, err := read(nil)
	if err != nil || c.Limits != (transfer.Limits{PerCustomer: 10, PerPublisher: 10000}) {
		t.Errorf("defaults: %+v, %v; want 10 per customer, 10000 per publisher", c.Limits, err)
	}
	c, err = read(map[string]string{"MAX_UNFINISHED_PER_CUSTOMER": "3", "MAX_UNFINISHED_PER_PUBLISHER": "0"})
	if err != nil || c.Limits != (transfer.Limits{PerCustomer: 3}) {
		t.Errorf("set: %+v, %v; want 3 and unbounded", c.Limits, err)
	}
	if _, err := read(map[string]string{"MAX_UNFINISHED_PER_CUSTOMER": "-1"}); err == nil || !strings.Contains(err.Error(), "MAX_UNFINISHED_PER_CUSTOMER") {
		t.Errorf("a negative limit: %v, want an error naming it", err)
	}
}

func TestReadAppleBackfill(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(name string) string { return vars[name] }
	}
	base := map[string]string{"TABLE_NAME": "t", "WEBHOOK_SEALING_KEY_SECRET_ID": "s"}
	c, err := config.ReadAppleBackfill(env(base))
	if err != nil || c.Window != 6*time.Hour || c.AppleAPIBaseURL != "" || c.Retention != 190*24*time.Hour {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	for name, value := range map[string]string{
		"BACKFILL_WINDOW_HOURS": "0",
		"APPLE_API_BASE_URL":    "http://api.example.com",
	} {
		vars := map[string]string{name: value}
		for k, v := range base {
			vars[k] = v
		}
		if _, err := config.ReadAppleBackfill(env(vars)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, value, err)
		}
	}
	c, err = config.ReadAppleBackfill(env(map[string]string{"TABLE_NAME": "t", "WEBHOOK_SEALING_KEY_SECRET_ID": "s",
		"APPLE_API_BASE_URL": "http://127.0.0.1:8123", "BACKFILL_WINDOW_HOURS": "24"}))
	if err != nil || c.Window != 24*time.Hour || c.AppleAPIBaseURL != "http://127.0.0.1:8123" {
		t.Errorf("a loopback stand-in: %+v, %v", c, err)
	}
	if _, err := config.ReadAppleBackfill(env(nil)); err == nil || !strings.Contains(err.Error(), "WEBHOOK_SEALING_KEY_SECRET_ID") {
		t.Errorf("without the sealing key's secret: %v", err)
	}
}
