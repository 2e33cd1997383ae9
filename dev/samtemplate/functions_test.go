package samtemplate_test

import (
	"reflect"
	"testing"

	"github.com/acme/purchase-transfer/dev/samtemplate"
)

func TestFunctionsMergeGlobals(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(`
Parameters:
  Level: {Type: String, Default: INFO}
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        LEVEL: !Ref Level
Resources:
  Table: {Type: AWS::DynamoDB::Table, Properties: {KeySchema: [{AttributeName: pk, KeyType: HASH}]}}
  Fast:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          LEASE: "900"
          SECRET: !If [HasSecret, !Sub "{{resolve:secretsmanager:${Level}}}", !Ref AWS::NoValue]
  Slow:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 60
`))
	if err != nil {
		t.Fatal(err)
	}
	fast, err := tpl.Function("Fast")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"TABLE_NAME": "", "LEVEL": "INFO", "LEASE": "900", "SECRET": ""}
	if !reflect.DeepEqual(fast.Environment, want) || fast.TimeoutSeconds != 10 {
		t.Errorf("Fast = %+v, want environment %v and timeout 10", fast, want)
	}
	slow, _ := tpl.Function("Slow")
	if slow.TimeoutSeconds != 60 || !reflect.DeepEqual(slow.EnvironmentNames(), []string{"LEVEL", "TABLE_NAME"}) {
		t.Errorf("Slow = %+v", slow)
	}
	if _, err := tpl.Function("Missing"); err == nil {
		t.Error("Function(Missing) found a function")
	}
}
