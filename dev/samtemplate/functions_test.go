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

// The local runner and the soak run as many batches of a queue at once as its
// event source mapping's MaximumConcurrency allows; a parameter gives its default.
func TestQueueEventsCarryTheirMaximumConcurrency(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(`
Parameters:
  Most: {Type: Number, Default: 7}
Resources:
  Jobs: {Type: AWS::SQS::Queue}
  Hooks: {Type: AWS::SQS::Queue}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        FromJobs:
          Type: SQS
          Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 5, ScalingConfig: {MaximumConcurrency: !Ref Most}}
        Nightly:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(1 day)}
  Hooker:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        FromHooks:
          Type: SQS
          Properties: {Queue: !GetAtt Hooks.Arn}
`))
	if err != nil {
		t.Fatal(err)
	}
	for queue, want := range map[string]samtemplate.QueueEvent{
		"Jobs":  {Queue: "Jobs", BatchSize: 5, MaximumConcurrency: 7},
		"Hooks": {Queue: "Hooks", BatchSize: 10, MaximumConcurrency: 0},
	} {
		got, ok := tpl.QueueConsumer(queue)
		if !ok || got != want {
			t.Errorf("QueueConsumer(%s) = %+v, %v; want %+v", queue, got, ok, want)
		}
	}
	if _, ok := tpl.QueueConsumer("Nothing"); ok {
		t.Error("a queue nobody consumes has a consumer")
	}
	w, _ := tpl.Function("Worker")
	if len(w.QueueEvents) != 1 {
		t.Errorf("Worker's queue events: %+v (a schedule is not one)", w.QueueEvents)
	}
}
