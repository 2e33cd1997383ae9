package samtemplate_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/acme/purchase-transfer/dev/samtemplate"
)

// The queue consumers' roles: SAM's managed SQS policy (every queue of the
// account) on none; each consumer may receive, delete and read the
// attributes of its own queues, and of no other.
func TestQueueConsumersReadOnlyTheirQueues(t *testing.T) {
	t.Parallel()
	tpl, _ := repoTemplate(t)
	consumers := 0
	consumed := map[string]bool{}
	for _, f := range tpl.Functions {
		if slices.Contains(f.Grants.ManagedPolicies, samtemplate.SQSExecutionPolicy) {
			t.Errorf("%s has %s", f.LogicalID, samtemplate.SQSExecutionPolicy)
		}
		for _, q := range f.SQSQueues {
			consumed[q] = true
		}
		if len(f.SQSQueues) > 0 {
			consumers++
		}
	}
	if consumers < 2 {
		t.Fatalf("found %d functions with SQS events, want the processor and the webhook function", consumers)
	}
	for _, f := range tpl.Functions {
		for _, action := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} {
			for _, q := range tpl.Queues {
				own := slices.Contains(f.SQSQueues, q.LogicalID)
				if got := f.Grants.Allows(action, q.LogicalID); got != own {
					t.Errorf("%s: %s on %s allowed %v, want %v (its SQS events consume %v)", f.LogicalID, action, q.LogicalID, got, own, f.SQSQueues)
				}
			}
		}
	}
}

// Nothing is granted on "*", and every role has the basic execution policy
// (its logs) and no other managed policy.
func TestGrantsNameTheirResources(t *testing.T) {
	t.Parallel()
	tpl, _ := repoTemplate(t)
	for _, f := range tpl.Functions {
		if !slices.Equal(f.Grants.ManagedPolicies, []string{samtemplate.BasicExecutionPolicy}) {
			t.Errorf("%s: managed policies %v, want only %s", f.LogicalID, f.Grants.ManagedPolicies, samtemplate.BasicExecutionPolicy)
		}
		if len(f.Grants.Statements) == 0 {
			t.Errorf("%s: no statements", f.LogicalID)
		}
		for _, s := range f.Grants.Statements {
			for _, r := range s.Resources {
				if strings.Contains(r, "*") {
					t.Errorf("%s: %v granted on %q", f.LogicalID, s.Actions, r)
				}
			}
			for _, a := range s.Actions {
				if strings.Contains(a, "*") {
					t.Errorf("%s: wildcard action %q", f.LogicalID, a)
				}
			}
		}
	}
}

// How the model reads roles: SAM's generated one (with the managed policies
// SAM adds), an explicit AWS::IAM::Role with an AWS::IAM::Policy attached,
// and what it refuses rather than misread.
func TestGrantsParsing(t *testing.T) {
	t.Parallel()
	tpl, err := samtemplate.Parse([]byte(`
Resources:
  Generated:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem]
              Resource: !Sub "${Table.Arn}/index/byOwner"
      Events:
        Q:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
  Explicit:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt ExplicitRole.Arn
  ExplicitRole:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns:
        - !Sub "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              Effect: Allow
              Action: sqs:SendMessage
              Resource: !GetAtt Queue.Arn
  Extra:
    Type: AWS::IAM::Policy
    Properties:
      Roles: [!Ref ExplicitRole]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: [dynamodb:Query]
            Resource: [!GetAtt Table.Arn]
`))
	if err != nil {
		t.Fatal(err)
	}
	gen, _ := tpl.Function("Generated")
	if !gen.Grants.Allows("dynamodb:GetItem", "Table/index/byOwner") || gen.Grants.Allows("dynamodb:GetItem", "Table") {
		t.Errorf("generated: %+v", gen.Grants)
	}
	if want := []string{samtemplate.BasicExecutionPolicy, samtemplate.SQSExecutionPolicy}; !slices.Equal(gen.Grants.ManagedPolicies, want) || gen.Grants.Role != "" {
		t.Errorf("generated: managed %v role %q, want %v", gen.Grants.ManagedPolicies, gen.Grants.Role, want)
	}
	if !slices.Equal(gen.SQSQueues, []string{"Queue"}) {
		t.Errorf("SQS queues %v", gen.SQSQueues)
	}
	exp, _ := tpl.Function("Explicit")
	if exp.Grants.Role != "ExplicitRole" || !slices.Equal(exp.Grants.ManagedPolicies, []string{samtemplate.BasicExecutionPolicy}) ||
		!exp.Grants.Allows("sqs:SendMessage", "Queue") || !exp.Grants.Allows("dynamodb:Query", "Table") || exp.Grants.Allows("sqs:SendMessage", "Other") {
		t.Errorf("explicit: %+v", exp.Grants)
	}
	for name, doc := range map[string]string{
		"deny":      "Effect: Deny\n              Action: s3:*\n              Resource: '*'",
		"condition": "Effect: Allow\n              Action: s3:GetObject\n              Resource: '*'\n              Condition: {}",
		"template":  "",
	} {
		policy := "        - Statement:\n            - " + doc
		if doc == "" {
			policy = "        - SQSPollerPolicy:\n            QueueName: q"
		}
		if _, err := samtemplate.Parse([]byte("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies:\n" + policy + "\n")); err == nil {
			t.Errorf("%s: parsed without an error", name)
		}
	}
}
