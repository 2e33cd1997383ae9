// Package api_test holds api/openapi.yaml to the code: the document must be a
// valid OpenAPI 3.1 description, and what it says about error codes, HTTP
// statuses, the order of the checks, enums, bodies, headers and path
// parameters must be what internal/httpapi and internal/transfer really do.
//
// When a test here fails, either the code changed (update openapi.yaml, and
// docs/contract.md if the contract itself changed) or the document is wrong.
package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const specFile = "openapi.yaml"

// docURL is where the document is registered with the JSON Schema compiler,
// so that "#/components/schemas/…" references resolve inside it.
const docURL = "file:///openapi.json"

// spec is api/openapi.yaml, parsed once.
type spec struct {
	// raw is the document as generic JSON values (from YAML).
	raw map[string]any
	// lax compiles schemas as written; strict adds unevaluatedProperties:
	// false to every component schema that lists properties, so that a
	// response carrying an undocumented field fails validation.
	lax, strict *jsonschema.Compiler

	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema
}

var loadSpec = sync.OnceValues(func() (*spec, error) {
	data, err := os.ReadFile(specFile)
	if err != nil {
		return nil, err
	}
	var node any
	if err := yaml.Unmarshal(data, &node); err != nil {
		return nil, fmt.Errorf("%s is not YAML: %w", specFile, err)
	}
	raw, ok := node.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is not a YAML mapping", specFile)
	}
	s := &spec{raw: raw, compiled: map[string]*jsonschema.Schema{}}
	if s.lax, err = newCompiler(raw); err != nil {
		return nil, err
	}
	strict, err := jsonRoundTrip(raw)
	if err != nil {
		return nil, err
	}
	schemas, _ := dig(strict, "components", "schemas").(map[string]any)
	for _, v := range schemas {
		if m, ok := v.(map[string]any); ok && m["properties"] != nil {
			if _, set := m["additionalProperties"]; !set {
				m["unevaluatedProperties"] = false
			}
		}
	}
	if s.strict, err = newCompiler(strict.(map[string]any)); err != nil {
		return nil, err
	}
	return s, nil
})

func newCompiler(doc map[string]any) (*jsonschema.Compiler, error) {
	// The compiler wants the values encoding/json would produce (json.Number
	// for numbers), not YAML's ints.
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(doc); err != nil {
		return nil, fmt.Errorf("%s as JSON: %w", specFile, err)
	}
	v, err := jsonschema.UnmarshalJSON(&buf)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020) // the dialect of OpenAPI 3.1
	c.AssertFormat()
	if err := c.AddResource(docURL, v); err != nil {
		return nil, err
	}
	return c, nil
}

func jsonRoundTrip(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}

func mustSpec(t testing.TB) *spec {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Fatalf("load %s: %v", specFile, err)
	}
	return s
}

// pointer builds a JSON pointer from path segments.
func pointer(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s))
	}
	return b.String()
}

// schema compiles the schema at a JSON pointer of the document.
func (s *spec) schema(t testing.TB, strict bool, ptr string) *jsonschema.Schema {
	t.Helper()
	key := fmt.Sprint(strict, ptr)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.compiled[key]; ok {
		return sch
	}
	c := s.lax
	if strict {
		c = s.strict
	}
	sch, err := c.Compile(docURL + "#" + ptr)
	if err != nil {
		t.Fatalf("compile the schema at %s: %v", ptr, err)
	}
	s.compiled[key] = sch
	return sch
}

// validate checks a JSON text against the schema at ptr.
func (s *spec) validate(t testing.TB, strict bool, ptr string, body []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := s.schema(t, strict, ptr).Validate(v); err != nil {
		return fmt.Errorf("%#v", err) // every failed keyword, with its location
	}
	return nil
}

// at returns the value at a JSON pointer of the document, following no $ref.
func (s *spec) at(ptr string) any {
	var v any = s.raw
	for _, seg := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		seg = strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// resolve follows a local $ref ("#/…") until a value without one.
func (s *spec) resolve(v any) any {
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		v = s.at(strings.TrimPrefix(ref, "#"))
	}
	return v
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// Operation pointers.
var (
	transferOp = pointer("paths", "/purchases/transfers", "post")
	statusOp   = pointer("paths", "/purchases/synchronizations/{synchronizationId}", "get")
	appleOp    = pointer("paths", "/apple/notifications/{publisherId}", "post")
)

// responsePtr is the pointer of a response, its $ref followed.
func (s *spec) responsePtr(op, status string) string {
	ptr := op + pointer("responses", status)
	for range 10 {
		ref, ok := dig(s.at(ptr), "$ref").(string)
		if !ok {
			return ptr
		}
		ptr = strings.TrimPrefix(ref, "#")
	}
	return ptr
}

func (s *spec) responseSchemaPtr(op, status string) string {
	return s.responsePtr(op, status) + pointer("content", "application/json", "schema")
}

// TestDocumentIsValidOpenAPI31 loads the document with kin-openapi and
// validates it as OpenAPI 3.1, examples included; then checks every example
// again with the JSON Schema 2020-12 validator the other tests use.
func TestDocumentIsValidOpenAPI31(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specFile)
	if err != nil {
		t.Fatalf("kin-openapi cannot load %s: %v", specFile, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(),
		openapi3.EnableExamplesValidation(),
		openapi3.EnableSchemaPatternValidation(),
		openapi3.EnableSchemaFormatValidation(),
		openapi3.EnableMultiError(),
	); err != nil {
		t.Fatalf("%s is not a valid OpenAPI 3.1 document:\n%v", specFile, err)
	}
	if doc.Webhooks["inappPurchaseSyncResult"] == nil {
		t.Error("webhooks.inappPurchaseSyncResult is missing")
	}

	// Every example of a media type must match its schema, strictly for
	// responses (an example must not show undocumented fields).
	s := mustSpec(t)
	checked := 0
	var walk func(ptr string, v any)
	walk = func(ptr string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if examples, ok := m["examples"].(map[string]any); ok && m["schema"] != nil {
			for name, ex := range examples {
				value := dig(s.resolve(ex), "value")
				body, err := json.Marshal(value)
				if err != nil {
					t.Fatalf("%s: example %s: %v", ptr, name, err)
				}
				strict := strings.Contains(ptr, "/responses/")
				if err := s.validate(t, strict, ptr+"/schema", body); err != nil {
					t.Errorf("example %s at %s does not match its schema: %v", name, ptr, err)
				}
				checked++
			}
		}
		for k, child := range m {
			walk(ptr+pointer(k), child)
		}
	}
	walk("", s.raw)
	if checked < 5 {
		t.Errorf("only %d media type examples found; the walk is broken", checked)
	}
}

// TestServers checks the servers: the local runner and the templated AWS URL,
// without and with a base path.
func TestServers(t *testing.T) {
	s := mustSpec(t)
	servers, _ := s.raw["servers"].([]any)
	var urls []string
	for _, sv := range servers {
		urls = append(urls, fmt.Sprint(dig(sv, "url")))
	}
	if !slices.Contains(urls, "http://127.0.0.1:3000") {
		t.Errorf("servers %v lack the local runner http://127.0.0.1:3000", urls)
	}
	// The base path is optional: one AWS server without it, one with it.
	const aws = "https://{apiId}.execute-api.{region}.amazonaws.com"
	for _, want := range []string{aws, aws + "{basePath}"} {
		if !slices.Contains(urls, want) {
			t.Errorf("servers %v lack %s", urls, want)
		}
	}
}

// TestExtensionsAreMarked checks that the things README.md lists as our
// choices are marked "(ext)" where the document describes them.
func TestExtensionsAreMarked(t *testing.T) {
	s := mustSpec(t)
	for _, c := range []struct{ ptr, mustMention string }{
		{pointer("components", "parameters", "CorrelationId", "description"), `.` + "`" + ` and ` + "`" + `..` + "`" + ` are refused (ext`},
		{pointer("components", "headers", "Location", "description"), "(ext)"},
		{pointer("components", "responses", "Unauthenticated", "description"), "(ext)"},
		{transferOp + "/description", "**Replays (ext).**"},
		{transferOp + "/description", "AUTH0003 (ext)"},
		{transferOp + "/description", "REQ0006 (ext)"},
		{transferOp + "/description", "REQ0007 (ext)"},
		{pointer("components", "headers", "RetryAfter", "description"), "(ext)"},
		{pointer("components", "schemas", "SynchronizationResult", "anyOf", "4", "description"), "(ext)"},
		{pointer("components", "securitySchemes", "publisherToken", "description"), "Format (ext)"},
		{pointer("components", "schemas", "InappPurchaseSyncResultData", "properties", "previousCleengCustomerId", "description"), "(ext)"},
		{pointer("webhooks", "inappPurchaseSyncResult", "post", "description"), "**Signing (ext"},
		{transferOp + "/description", "**Proof of possession (ext).**"},
		{transferOp + "/description", "AUTH0004 (ext)"},
		{pointer("components", "schemas", "TransferRequest", "properties", "signedTransactionInfo", "description"), "(ext)"},
		{appleOp + "/summary", "(ext)"},
		{appleOp + "/description", "(ext)"},
	} {
		text, _ := s.at(c.ptr).(string)
		if !strings.Contains(text, c.mustMention) {
			t.Errorf("%s does not contain %q:\n%s", c.ptr, c.mustMention, text)
		}
	}
}

// sortedKeys is for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var tableRow = regexp.MustCompile(`(?m)^\|\s*(\d+)\s*\|\s*(\d{3})\s*\|\s*([A-Z0-9]+)\b`)
