package samtemplate_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.yaml.in/yaml/v3"

	"github.com/acme/purchase-transfer/dev/samtemplate"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

func repoTemplate(t *testing.T) (*samtemplate.Template, *yaml.Node) {
	t.Helper()
	path, err := samtemplate.FindTemplate()
	if err != nil {
		t.Fatalf("FindTemplate: %v", err)
	}
	tpl, err := samtemplate.Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return tpl, &doc
}

// nodeAt walks mapping keys from a document node; nil when a key is missing.
func nodeAt(n *yaml.Node, keys ...string) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

func intAt(t *testing.T, n *yaml.Node, keys ...string) (int, bool) {
	t.Helper()
	v := nodeAt(n, keys...)
	if v == nil {
		return 0, false
	}
	i, err := strconv.Atoi(v.Value)
	if err != nil {
		t.Fatalf("%s = %q is not an integer", strings.Join(keys, "."), v.Value)
	}
	return i, true
}

func keyOf(schema []types.KeySchemaElement) map[types.KeyType]string {
	out := map[types.KeyType]string{}
	for _, k := range schema {
		out[k.KeyType] = aws.ToString(k.AttributeName)
	}
	return out
}

func TestRepoTemplateTable(t *testing.T) {
	t.Parallel()
	tpl, _ := repoTemplate(t)
	if len(tpl.Tables) != 1 {
		t.Errorf("template declares %d tables, want 1", len(tpl.Tables))
	}
	tb, err := tpl.Table("TransfersTable")
	if err != nil {
		t.Fatal(err)
	}
	if got := keyOf(tb.KeySchema); len(tb.KeySchema) != 2 || got[types.KeyTypeHash] != "pk" || got[types.KeyTypeRange] != "sk" {
		t.Errorf("key schema = %v, want pk HASH, sk RANGE", got)
	}
	if tb.TTLAttribute != "ttl" {
		t.Errorf("TTL attribute = %q, want ttl", tb.TTLAttribute)
	}
	indexes := map[string]types.GlobalSecondaryIndex{}
	for _, ix := range tb.Indexes {
		indexes[aws.ToString(ix.IndexName)] = ix
	}
	if len(indexes) != 3 {
		t.Errorf("indexes = %v, want byOwner, openSyncs and pendingEvents", indexes)
	}
	wantIdx := map[string][2]string{"byOwner": {"ownerPk", "ownerSk"}, "openSyncs": {"openShard", "openSince"},
		"pendingEvents": {"pendingShard", "pendingSince"}}
	for name, keys := range wantIdx {
		ix, ok := indexes[name]
		if !ok {
			t.Errorf("index %s missing", name)
			continue
		}
		got := keyOf(ix.KeySchema)
		if got[types.KeyTypeHash] != keys[0] || got[types.KeyTypeRange] != keys[1] {
			t.Errorf("index %s keys = %v, want %v", name, got, keys)
		}
		if ix.Projection == nil || ix.Projection.ProjectionType == "" {
			t.Errorf("index %s has no projection", name)
		}
	}
	// DynamoDB requires every key attribute to be defined, and no other.
	defined := map[string]types.ScalarAttributeType{}
	for _, a := range tb.Attributes {
		defined[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	used := map[string]bool{}
	for _, k := range tb.KeySchema {
		used[aws.ToString(k.AttributeName)] = true
	}
	for _, ix := range tb.Indexes {
		for _, k := range ix.KeySchema {
			used[aws.ToString(k.AttributeName)] = true
		}
	}
	for name := range used {
		if defined[name] == "" {
			t.Errorf("key attribute %s is not in AttributeDefinitions", name)
		}
	}
	for name := range defined {
		if !used[name] {
			t.Errorf("attribute %s is defined but is no key (CreateTable refuses it)", name)
		}
	}
	if defined["pk"] != types.ScalarAttributeTypeS || defined["sk"] != types.ScalarAttributeTypeS {
		t.Errorf("pk/sk types = %s/%s, want S/S", defined["pk"], defined["sk"])
	}

	in := tb.CreateInput("local-table")
	if aws.ToString(in.TableName) != "local-table" || in.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("CreateInput = %s, %s", aws.ToString(in.TableName), in.BillingMode)
	}
	if len(in.KeySchema) != 2 || len(in.GlobalSecondaryIndexes) != len(tb.Indexes) || len(in.AttributeDefinitions) != len(tb.Attributes) {
		t.Errorf("CreateInput lost keys or indexes: %+v", in)
	}
}

func TestRepoTemplateQueues(t *testing.T) {
	t.Parallel()
	tpl, doc := repoTemplate(t)
	q, err := tpl.Queue("TransferQueue")
	if err != nil {
		t.Fatal(err)
	}
	dlq, err := tpl.Queue("TransferDeadLetterQueue")
	if err != nil {
		t.Fatal(err)
	}
	if q.DeadLetterQueue != "TransferDeadLetterQueue" {
		t.Errorf("TransferQueue redrives to %q, want TransferDeadLetterQueue", q.DeadLetterQueue)
	}
	param, ok := tpl.Parameters["TransferMaxReceiveCount"]
	if !ok {
		t.Fatal("no TransferMaxReceiveCount parameter default")
	}
	want, err := strconv.Atoi(param)
	if err != nil {
		t.Fatalf("TransferMaxReceiveCount default %q: %v", param, err)
	}
	if q.MaxReceiveCount != want || want < 2 {
		t.Errorf("maxReceiveCount = %d, want the parameter default %d (and ≥ 2)", q.MaxReceiveCount, want)
	}
	if dlq.DeadLetterQueue != "" {
		t.Errorf("the dead-letter queue redrives to %q", dlq.DeadLetterQueue)
	}
	if dlq.MessageRetentionSeconds <= q.MessageRetentionSeconds {
		t.Errorf("DLQ retention %d s ≤ source retention %d s: a dead-lettered message keeps its original enqueue time and would expire early",
			dlq.MessageRetentionSeconds, q.MessageRetentionSeconds)
	}

	// Lambda's advice for SQS sources: visibility ≥ 6 × the function timeout.
	timeout, ok := intAt(t, doc, "Resources", "ProcessorFunction", "Properties", "Timeout")
	if !ok {
		timeout, ok = intAt(t, doc, "Globals", "Function", "Timeout")
	}
	if !ok {
		timeout = 3 // Lambda's default
	}
	if q.VisibilityTimeoutSeconds < 6*timeout {
		t.Errorf("TransferQueue visibility %d s < 6 × ProcessorFunction timeout %d s", q.VisibilityTimeoutSeconds, timeout)
	}

	// The processor reads the same maxReceiveCount as the queue.
	env := nodeAt(doc, "Resources", "ProcessorFunction", "Properties", "Environment", "Variables", "MAX_RECEIVE_COUNT")
	if env == nil || env.Tag != "!Ref" || env.Value != "TransferMaxReceiveCount" {
		t.Errorf("ProcessorFunction MAX_RECEIVE_COUNT is not !Ref TransferMaxReceiveCount: %+v", env)
	}

	// The lock lease must outlast every delivery of the job (transfer.DefaultLockLease's rule).
	leaseSeconds, ok := intAt(t, doc, "Resources", "TransferFunction", "Properties", "Environment", "Variables", "LOCK_LEASE_SECONDS")
	lease := time.Duration(leaseSeconds) * time.Second
	if !ok {
		lease = transfer.DefaultLockLease
	}
	budget := time.Duration(q.MaxReceiveCount*q.VisibilityTimeoutSeconds) * time.Second
	if lease <= budget {
		t.Errorf("lock lease %v ≤ retry budget %v (maxReceiveCount × visibility timeout)", lease, budget)
	}
}

// TestRepoTemplateWebhookQueue: the webhook queue hides a message longer
// than an attempt holds its delivery, and than the function may run (as
// Lambda advises, six times), and its redrive leaves room for every attempt.
func TestRepoTemplateWebhookQueue(t *testing.T) {
	t.Parallel()
	tpl, doc := repoTemplate(t)
	q, err := tpl.Queue("WebhookQueue")
	if err != nil {
		t.Fatal(err)
	}
	visibility := time.Duration(q.VisibilityTimeoutSeconds) * time.Second
	fnSeconds, ok := intAt(t, doc, "Resources", "WebhookFunction", "Properties", "Timeout")
	if !ok {
		t.Fatal("WebhookFunction has no Timeout")
	}
	fnTimeout := time.Duration(fnSeconds) * time.Second
	vars := func(name string) string {
		n := nodeAt(doc, "Resources", "WebhookFunction", "Properties", "Environment", "Variables", name)
		if n == nil {
			t.Fatalf("WebhookFunction has no %s", name)
		}
		return n.Value
	}
	attemptSeconds, err := strconv.Atoi(vars("WEBHOOK_TIMEOUT_SECONDS"))
	if err != nil {
		t.Fatal(err)
	}
	attempt := time.Duration(attemptSeconds) * time.Second
	if lease := webhook.AttemptLease(attempt); visibility <= lease {
		t.Errorf("WebhookQueue visibility %v ≤ an attempt's lease %v: a message in hand would come back while its attempt is leased", visibility, lease)
	}
	if visibility < 6*fnTimeout {
		t.Errorf("WebhookQueue visibility %v < 6 × WebhookFunction timeout %v", visibility, fnTimeout)
	}
	if fnTimeout <= attempt {
		t.Errorf("WebhookFunction timeout %v ≤ the attempt timeout %v: no time is left for the claim and the record", fnTimeout, attempt)
	}
	// Every scheduled retry is a receive; so is a copy kept past a lease.
	attempts := len(strings.Split(vars("WEBHOOK_RETRY_SCHEDULE"), ",")) + 1
	if q.MaxReceiveCount < 2*attempts {
		t.Errorf("WebhookQueue maxReceiveCount %d < 2 × the %d attempts of the schedule", q.MaxReceiveCount, attempts)
	}
}

func TestFindTemplate(t *testing.T) {
	t.Parallel()
	path, err := samtemplate.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, "template.yaml") {
		t.Errorf("FindTemplate = %q", path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
}

const inlineTemplate = `
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Visibility:
    Type: Number
    Default: "120"
  Receives:
    Type: Number
    Default: 3
  TtlOn:
    Type: String
    Default: "true"
  NoDefault:
    Type: String
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref Visibility
      MessageRetentionPeriod: "3600"
      DelaySeconds: 2
      QueueName: !Sub "${AWS::StackName}-jobs"
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dead.Arn
        maxReceiveCount: !Ref Receives
  Dead:
    Type: AWS::SQS::Queue
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Ref NoDefault
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
        - AttributeName: gsi1
          AttributeType: N
      KeySchema:
        - AttributeName: id
          KeyType: HASH
      GlobalSecondaryIndexes:
        - IndexName: g1
          KeySchema:
            - AttributeName: gsi1
              KeyType: HASH
          Projection:
            ProjectionType: INCLUDE
            NonKeyAttributes: [a, b]
      TimeToLiveSpecification:
        AttributeName: expires
        Enabled: !Ref TtlOn
  NoTtl:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema:
        - AttributeName: id
          KeyType: HASH
      TimeToLiveSpecification:
        AttributeName: expires
        Enabled: false
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 10
`

func TestParseInlineTemplate(t *testing.T) {
	t.Parallel()
	tpl, err := samtemplate.Parse([]byte(inlineTemplate))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if tpl.Parameters["Visibility"] != "120" || tpl.Parameters["Receives"] != "3" {
		t.Errorf("parameters = %v", tpl.Parameters)
	}
	if _, ok := tpl.Parameters["NoDefault"]; ok {
		t.Error("a parameter without a default got one")
	}
	if len(tpl.Queues) != 2 || len(tpl.Tables) != 2 {
		t.Errorf("%d queues, %d tables; want 2 and 2 (the function is neither)", len(tpl.Queues), len(tpl.Tables))
	}

	jobs, err := tpl.Queue("Jobs")
	if err != nil {
		t.Fatal(err)
	}
	want := samtemplate.Queue{
		LogicalID:                "Jobs",
		VisibilityTimeoutSeconds: 120, // !Ref to a string-number parameter
		MessageRetentionSeconds:  3600,
		DelaySeconds:             2,
		DeadLetterQueue:          "Dead", // !GetAtt Dead.Arn
		MaxReceiveCount:          3,      // !Ref to a number parameter
	}
	if jobs != want {
		t.Errorf("Jobs = %+v, want %+v", jobs, want)
	}
	dead, err := tpl.Queue("Dead")
	if err != nil {
		t.Fatal(err)
	}
	if dead.VisibilityTimeoutSeconds != 30 || dead.DeadLetterQueue != "" || dead.MaxReceiveCount != 0 {
		t.Errorf("queue without properties = %+v, want SQS defaults", dead)
	}

	things, err := tpl.Table("Things")
	if err != nil {
		t.Fatal(err)
	}
	if things.TTLAttribute != "expires" {
		t.Errorf("TTL = %q, want expires (Enabled from a \"true\" parameter)", things.TTLAttribute)
	}
	if len(things.Indexes) != 1 {
		t.Fatalf("indexes = %+v", things.Indexes)
	}
	ix := things.Indexes[0]
	if aws.ToString(ix.IndexName) != "g1" || ix.Projection.ProjectionType != types.ProjectionTypeInclude ||
		strings.Join(ix.Projection.NonKeyAttributes, ",") != "a,b" {
		t.Errorf("index = %s %+v", aws.ToString(ix.IndexName), ix.Projection)
	}
	if len(things.Attributes) != 2 || things.Attributes[1].AttributeType != types.ScalarAttributeTypeN {
		t.Errorf("attributes = %+v", things.Attributes)
	}
	noTTL, err := tpl.Table("NoTtl")
	if err != nil {
		t.Fatal(err)
	}
	if noTTL.TTLAttribute != "" {
		t.Errorf("disabled TTL reported as %q", noTTL.TTLAttribute)
	}
	if _, err := tpl.Table("Missing"); err == nil {
		t.Error("Table of an unknown id did not fail")
	}
	if _, err := tpl.Queue("Things"); err == nil {
		t.Error("Queue of a table id did not fail")
	}
}

func TestParseRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"not YAML": "Resources: [",
		"redrive to a literal ARN": `
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: arn:aws:sqs:eu-west-1:1:dlq
        maxReceiveCount: 3
`,
		"redrive to !Ref": `
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !Ref Dlq
        maxReceiveCount: 3
`,
		"non-numeric visibility": `
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: soon
`,
		"unresolved !Ref in a number": `
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref Unknown
`,
		"non-boolean TTL flag": `
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      TimeToLiveSpecification:
        AttributeName: ttl
        Enabled: maybe
`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if tpl, err := samtemplate.Parse([]byte(src)); err == nil {
				t.Errorf("Parse succeeded: %+v", tpl)
			}
		})
	}
}
