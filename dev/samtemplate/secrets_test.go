package samtemplate_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/acme/purchase-transfer/dev/samtemplate"
)

// secretOf is, per function, the parameter naming the one secret it reads
// and the variable that passes the name.
var secretOf = map[string]struct{ parameter, variable string }{
	"TransferFunction": {"JwtHs256SecretId", "JWT_HS256_SECRET_ID"},
	"StatusFunction":   {"JwtHs256SecretId", "JWT_HS256_SECRET_ID"},
	"WebhookFunction":  {"WebhookSealingKeySecretId", "WEBHOOK_SEALING_KEY_SECRET_ID"},
}

// A secret's value is never in the template or a function's environment:
// no dynamic reference anywhere, each secret-reading function gets the
// secret's name, and may read that secret alone; the others none.
func TestSecretsAreReadByNameAndScoped(t *testing.T) {
	path, err := samtemplate.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "{{resolve:") {
		t.Error("template.yaml resolves a dynamic reference: a secret's value would land in a function's configuration")
	}
	tpl, _ := repoTemplate(t)
	res := resources(t)
	for _, id := range ofType(res, "AWS::Serverless::Function") {
		want, reads := secretOf[id]
		var actions, arns []string
		walkStatements(nodeAt(res[id], "Properties", "Policies"), func(stmt *yaml.Node) {
			acts := scalars(nodeAt(stmt, "Action"))
			if !slices.ContainsFunc(acts, func(a string) bool { return strings.HasPrefix(a, "secretsmanager:") }) {
				return
			}
			actions = append(actions, acts...)
			arns = append(arns, scalars(nodeAt(stmt, "Resource"))...)
		})
		fn, err := tpl.Function(id)
		if err != nil {
			t.Fatal(err)
		}
		if !reads {
			if len(actions) > 0 {
				t.Errorf("%s may call %v on %v, but reads no secret", id, actions, arns)
			}
			continue
		}
		wantARN := "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${" + want.parameter + "}-??????"
		if !slices.Equal(actions, []string{"secretsmanager:GetSecretValue"}) || !slices.Equal(arns, []string{wantARN}) {
			t.Errorf("%s may call %v on %v; want GetSecretValue on %s alone", id, actions, arns, wantARN)
		}
		if _, ok := fn.Environment[want.variable]; !ok {
			t.Errorf("%s is not given %s", id, want.variable)
		}
		if _, ok := fn.Environment["AWS_ENDPOINT_URL_SECRETS_MANAGER"]; !ok {
			t.Errorf("%s does not declare AWS_ENDPOINT_URL_SECRETS_MANAGER (sam local and the RIE tests set it)", id)
		}
	}
}

// walkStatements calls f with every IAM statement under n, through !If.
func walkStatements(n *yaml.Node, f func(*yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		if nodeAt(n, "Effect") != nil {
			f(n)
			return
		}
		for i := 1; i < len(n.Content); i += 2 {
			walkStatements(n.Content[i], f)
		}
		return
	}
	for _, c := range n.Content {
		walkStatements(c, f)
	}
}

// scalars is a scalar or a list of scalars, as IAM allows either.
func scalars(n *yaml.Node) []string {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, scalars(c)...)
	}
	return out
}
