package samtemplate_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/dev/samtemplate"
)

// secretOf is, per function, the parameter naming the one secret it reads
// and the variable that passes the name.
var secretOf = map[string]struct{ parameter, variable string }{
	"TransferFunction":  {"JwtHs256SecretId", "JWT_HS256_SECRET_ID"},
	"StatusFunction":    {"JwtHs256SecretId", "JWT_HS256_SECRET_ID"},
	"WebhookFunction":   {"WebhookSealingKeySecretId", "WEBHOOK_SEALING_KEY_SECRET_ID"},
	"ProcessorFunction": {"WebhookSealingKeySecretId", "WEBHOOK_SEALING_KEY_SECRET_ID"},
	// The sealing key opens publishers' App Store Connect keys.
	"AppleBackfillFunction": {"WebhookSealingKeySecretId", "WEBHOOK_SEALING_KEY_SECRET_ID"},
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
		fn, err := tpl.Function(id)
		if err != nil {
			t.Fatal(err)
		}
		// The function's grants, from its Policies or its explicit role.
		var actions, arns []string
		for _, st := range fn.Grants.Statements {
			if !slices.ContainsFunc(st.Actions, func(a string) bool { return strings.HasPrefix(a, "secretsmanager:") }) {
				continue
			}
			actions = append(actions, st.Actions...)
			for _, r := range st.Resources {
				arns = append(arns, strings.TrimPrefix(r, "!Sub "))
			}
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
