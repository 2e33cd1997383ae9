package samtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The execution roles of the functions, as the template grants them: SAM's
// generated role (the function's Policies, plus the managed policies SAM
// attaches itself) or an explicit AWS::IAM::Role named by the function's
// Role, with any AWS::IAM::Policy attached to it.

// Managed policies SAM attaches to a role it generates for a function.
const (
	// BasicExecutionPolicy is attached to every generated role: the
	// function's log lines.
	BasicExecutionPolicy = "service-role/AWSLambdaBasicExecutionRole"
	// SQSExecutionPolicy is attached for an SQS event: receive, delete and
	// get-attributes on every queue of the account.
	SQSExecutionPolicy = "service-role/AWSLambdaSQSQueueExecutionRole"
)

// Statement is one Allow statement. Resources are named as the template
// names them: a resource's logical id for its ARN ("TransfersTable"), with
// the suffix the template adds ("TransfersTable/index/openSyncs"), a
// parameter or resource name for a !Ref; anything else as written.
type Statement struct {
	Actions   []string
	Resources []string
}

// Grants is what a function's execution role allows.
type Grants struct {
	// Role is the explicit role's logical id, "" when SAM generates one.
	Role string
	// Statements are the Allow statements of the role's inline policies.
	Statements []Statement
	// ManagedPolicies are the AWS managed policies attached, by their name
	// after "arn:aws:iam::aws:policy/", those SAM adds included.
	ManagedPolicies []string
}

// Allows reports whether a statement grants action on resource. Actions
// may end in "*"; a resource "*" is every resource.
func (g Grants) Allows(action, resource string) bool {
	for _, s := range g.Statements {
		if slices.ContainsFunc(s.Actions, func(a string) bool { return matches(a, action) }) &&
			slices.ContainsFunc(s.Resources, func(r string) bool { return r == "*" || r == resource }) {
			return true
		}
	}
	return false
}

func matches(pattern, action string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(strings.ToLower(action), strings.ToLower(p))
	}
	return strings.EqualFold(pattern, action)
}

// functionIAM is what parseFunction keeps of the role for attachGrants.
type functionIAM struct {
	role      string
	policies  []json.RawMessage
	sqsEvents bool
	queues    []string
}

type iamProps struct {
	Role     any
	Policies json.RawMessage
	Events   map[string]struct {
		Type       string
		Properties struct {
			Queue string
		}
	}
}

func parseFunctionIAM(props json.RawMessage) (functionIAM, error) {
	var p iamProps
	if len(props) > 0 {
		if err := json.Unmarshal(props, &p); err != nil {
			return functionIAM{}, err
		}
	}
	var f functionIAM
	if p.Role != nil {
		s, _ := p.Role.(string)
		id, ok := strings.CutPrefix(s, getAttPrefix)
		if !ok || !strings.HasSuffix(id, ".Arn") {
			return f, fmt.Errorf("property Role must be !GetAtt <AWS::IAM::Role>.Arn, got %v", p.Role)
		}
		f.role = strings.TrimSuffix(id, ".Arn")
	}
	if len(p.Policies) > 0 {
		// Policies is one policy or a list of them.
		if err := json.Unmarshal(p.Policies, &f.policies); err != nil {
			f.policies = []json.RawMessage{p.Policies}
		}
	}
	for _, e := range p.Events {
		if e.Type == "SQS" {
			f.sqsEvents = true
			f.queues = append(f.queues, resourceName(e.Properties.Queue))
		}
	}
	slices.Sort(f.queues)
	return f, nil
}

// grantsOf is the role SAM generates from a function's Policies.
func grantsOf(f functionIAM) (Grants, error) {
	g := Grants{ManagedPolicies: []string{BasicExecutionPolicy}}
	if f.sqsEvents {
		g.ManagedPolicies = append(g.ManagedPolicies, SQSExecutionPolicy)
	}
	for _, raw := range f.policies {
		var name string
		if json.Unmarshal(raw, &name) == nil {
			g.ManagedPolicies = append(g.ManagedPolicies, managedName(name))
			continue
		}
		var doc struct {
			Statement json.RawMessage
		}
		if err := json.Unmarshal(raw, &doc); err != nil || doc.Statement == nil {
			return Grants{}, fmt.Errorf("policy %s: only policy documents (Statement) and managed policy names are understood, not SAM policy templates", raw)
		}
		st, err := parseStatements(doc.Statement)
		if err != nil {
			return Grants{}, err
		}
		g.Statements = append(g.Statements, st...)
	}
	return g, nil
}

// roleProps are an AWS::IAM::Role's properties this package reads.
type roleProps struct {
	ManagedPolicyArns []string
	Policies          []struct {
		PolicyDocument struct {
			Statement json.RawMessage
		}
	}
}

// policyProps are an AWS::IAM::Policy's.
type policyProps struct {
	PolicyDocument struct {
		Statement json.RawMessage
	}
	Roles []string
}

// attachGrants gives every function its role's grants, once all resources
// are read.
func attachGrants(t *Template, iam map[string]functionIAM, roles map[string]roleProps, policies []policyProps) error {
	for i := range t.Functions {
		f := &t.Functions[i]
		fi := iam[f.LogicalID]
		f.SQSQueues = fi.queues
		if fi.role == "" {
			g, err := grantsOf(fi)
			if err != nil {
				return fmt.Errorf("function %s: %w", f.LogicalID, err)
			}
			f.Grants = g
			continue
		}
		if len(fi.policies) > 0 {
			return fmt.Errorf("function %s: Policies are ignored next to Role; put them in %s", f.LogicalID, fi.role)
		}
		r, ok := roles[fi.role]
		if !ok {
			return fmt.Errorf("function %s: Role %s is no AWS::IAM::Role of the template", f.LogicalID, fi.role)
		}
		g := Grants{Role: fi.role}
		for _, arn := range r.ManagedPolicyArns {
			g.ManagedPolicies = append(g.ManagedPolicies, managedName(arn))
		}
		var docs []json.RawMessage
		for _, p := range r.Policies {
			docs = append(docs, p.PolicyDocument.Statement)
		}
		for _, p := range policies {
			if slices.Contains(p.Roles, "Ref:"+fi.role) {
				docs = append(docs, p.PolicyDocument.Statement)
			}
		}
		for _, d := range docs {
			st, err := parseStatements(d)
			if err != nil {
				return fmt.Errorf("role %s: %w", fi.role, err)
			}
			g.Statements = append(g.Statements, st...)
		}
		f.Grants = g
	}
	return nil
}

// parseStatements reads a Statement (one or a list). Only plain Allow
// statements are understood: a Deny, a Condition, NotAction or
// NotResource would make Allows wrong, so they are refused.
//
// A conditional statement, !If [Condition, statement, statement or
// AWS::NoValue], counts with both branches' grants: the test holds the
// deployment that has every option on.
func parseStatements(raw json.RawMessage) ([]Statement, error) {
	var elements []json.RawMessage
	if err := json.Unmarshal(raw, &elements); err != nil {
		elements = []json.RawMessage{raw}
	}
	var list []map[string]json.RawMessage
	for _, el := range elements {
		var branches []json.RawMessage
		if json.Unmarshal(el, &branches) == nil {
			var condition string
			if len(branches) != 3 || json.Unmarshal(branches[0], &condition) != nil {
				return nil, fmt.Errorf("statement %s: a list is understood only as !If [Condition, then, else]", el)
			}
			branches = branches[1:]
		} else {
			branches = []json.RawMessage{el}
		}
		for _, b := range branches {
			if string(b) == `"Ref:AWS::NoValue"` {
				continue
			}
			var one map[string]json.RawMessage
			if err := json.Unmarshal(b, &one); err != nil {
				return nil, fmt.Errorf("statement %s: %w", b, err)
			}
			list = append(list, one)
		}
	}
	var out []Statement
	for _, m := range list {
		for k := range m {
			switch k {
			case "Effect", "Action", "Resource", "Sid":
			default:
				return nil, fmt.Errorf("statement %v: %s is not understood", m, k)
			}
		}
		var effect string
		if err := json.Unmarshal(m["Effect"], &effect); err != nil || effect != "Allow" {
			return nil, fmt.Errorf("statement %v: only Effect Allow is understood", m)
		}
		actions, err := stringOrList(m["Action"])
		if err != nil {
			return nil, fmt.Errorf("statement Action: %w", err)
		}
		resources, err := stringOrList(m["Resource"])
		if err != nil {
			return nil, fmt.Errorf("statement Resource: %w", err)
		}
		for i, r := range resources {
			resources[i] = resourceName(r)
		}
		out = append(out, Statement{Actions: actions, Resources: resources})
	}
	return out, nil
}

func stringOrList(raw json.RawMessage) ([]string, error) {
	if raw == nil {
		return nil, errors.New("missing")
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%s: want a string or a list of strings", raw)
	}
	return list, nil
}

// resourceName turns a resolved Resource into the name Statement documents.
func resourceName(r string) string {
	if id, ok := strings.CutPrefix(r, getAttPrefix); ok {
		return strings.TrimSuffix(id, ".Arn")
	}
	if name, ok := strings.CutPrefix(r, "Ref:"); ok {
		return name
	}
	// "!Sub ${Table.Arn}/index/name" (a local tag kept as text by resolve).
	if sub, ok := strings.CutPrefix(r, "!Sub "); ok && strings.HasPrefix(sub, "${") {
		if end := strings.Index(sub, "}"); end > 0 {
			return strings.TrimSuffix(sub[2:end], ".Arn") + sub[end+1:]
		}
	}
	return r
}

// managedName is a managed policy's name from its ARN (also one written
// with ${AWS::Partition}).
func managedName(arn string) string {
	arn = strings.TrimPrefix(arn, "!Sub ")
	if _, name, ok := strings.Cut(arn, ":iam::aws:policy/"); ok {
		return name
	}
	return arn
}
