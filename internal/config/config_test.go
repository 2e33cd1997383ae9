package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/dev/samtemplate"
	"github.com/acme/purchase-transfer/internal/config"
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
