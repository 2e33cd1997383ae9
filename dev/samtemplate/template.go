// Package samtemplate reads the DynamoDB tables and SQS queues that template.yaml
// declares, so that local stacks and tests create exactly what AWS gets: the
// template is the one source of truth for keys, indexes, TTL and redrive.
package samtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.yaml.in/yaml/v3"
)

// Table is a DynamoDB table of the template.
type Table struct {
	LogicalID    string
	KeySchema    []types.KeySchemaElement
	Attributes   []types.AttributeDefinition
	Indexes      []types.GlobalSecondaryIndex
	TTLAttribute string
}

// CreateInput is the CreateTable request for this table under a name.
func (t Table) CreateInput(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:              &name,
		KeySchema:              t.KeySchema,
		AttributeDefinitions:   t.Attributes,
		GlobalSecondaryIndexes: t.Indexes,
		BillingMode:            types.BillingModePayPerRequest,
	}
}

// Queue is an SQS queue of the template.
type Queue struct {
	LogicalID                string
	VisibilityTimeoutSeconds int
	MessageRetentionSeconds  int
	DelaySeconds             int
	// DeadLetterQueue is the logical id of the redrive target, "" for none.
	DeadLetterQueue string
	MaxReceiveCount int
}

// Template is the part of template.yaml this package understands.
type Template struct {
	Tables    []Table
	Queues    []Queue
	Functions []Function
	// Parameters are the template's parameter defaults.
	Parameters map[string]string
}

// Table returns a table by logical id.
func (t *Template) Table(logicalID string) (Table, error) {
	for _, tb := range t.Tables {
		if tb.LogicalID == logicalID {
			return tb, nil
		}
	}
	return Table{}, fmt.Errorf("template declares no table %q", logicalID)
}

// Queue returns a queue by logical id.
func (t *Template) Queue(logicalID string) (Queue, error) {
	for _, q := range t.Queues {
		if q.LogicalID == logicalID {
			return q, nil
		}
	}
	return Queue{}, fmt.Errorf("template declares no queue %q", logicalID)
}

// FindTemplate returns the path of template.yaml at the repository root,
// searching upwards from the working directory.
func FindTemplate() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "template.yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("template.yaml not found above the working directory")
		}
		dir = parent
	}
}

// Load reads a template file.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse reads the tables and queues of a template.
func Parse(data []byte) (*Template, error) {
	var doc struct {
		Parameters map[string]struct {
			Default any `yaml:"Default"`
		} `yaml:"Parameters"`
		Resources map[string]yaml.Node `yaml:"Resources"`
		Globals   struct {
			Function yaml.Node `yaml:"Function"`
		} `yaml:"Globals"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	t := &Template{Parameters: map[string]string{}}
	for name, p := range doc.Parameters {
		if p.Default != nil {
			t.Parameters[name] = fmt.Sprint(p.Default)
		}
	}
	iam := map[string]functionIAM{}
	roles := map[string]roleProps{}
	var policies []policyProps
	ids := make([]string, 0, len(doc.Resources))
	for id := range doc.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		node := doc.Resources[id]
		value, err := resolve(&node, t.Parameters)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		var res struct {
			Type       string          `json:"Type"`
			Properties json.RawMessage `json:"Properties"`
		}
		if err := roundTrip(value, &res); err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		switch res.Type {
		case "AWS::DynamoDB::Table":
			tb, err := parseTable(id, res.Properties)
			if err != nil {
				return nil, fmt.Errorf("table %s: %w", id, err)
			}
			t.Tables = append(t.Tables, tb)
		case "AWS::SQS::Queue":
			q, err := parseQueue(id, res.Properties)
			if err != nil {
				return nil, fmt.Errorf("queue %s: %w", id, err)
			}
			t.Queues = append(t.Queues, q)
		case "AWS::Serverless::Function":
			fn, err := parseFunction(id, res.Properties, &doc.Globals.Function, t.Parameters)
			if err != nil {
				return nil, fmt.Errorf("function %s: %w", id, err)
			}
			t.Functions = append(t.Functions, fn)
			if iam[id], err = parseFunctionIAM(res.Properties); err != nil {
				return nil, fmt.Errorf("function %s: %w", id, err)
			}
		case "AWS::IAM::Role":
			var r roleProps
			if err := json.Unmarshal(res.Properties, &r); err != nil {
				return nil, fmt.Errorf("role %s: %w", id, err)
			}
			roles[id] = r
		case "AWS::IAM::Policy":
			var p policyProps
			if err := json.Unmarshal(res.Properties, &p); err != nil {
				return nil, fmt.Errorf("policy %s: %w", id, err)
			}
			policies = append(policies, p)
		}
	}
	if err := attachGrants(t, iam, roles, policies); err != nil {
		return nil, err
	}
	return t, nil
}

func parseTable(id string, props json.RawMessage) (Table, error) {
	var p struct {
		AttributeDefinitions   []struct{ AttributeName, AttributeType string }
		KeySchema              []keyElement
		GlobalSecondaryIndexes []struct {
			IndexName  string
			KeySchema  []keyElement
			Projection struct {
				ProjectionType   string
				NonKeyAttributes []string
			}
		}
		TimeToLiveSpecification struct {
			AttributeName string
			Enabled       flexBool
		}
	}
	if err := json.Unmarshal(props, &p); err != nil {
		return Table{}, err
	}
	t := Table{LogicalID: id, KeySchema: keySchema(p.KeySchema)}
	for _, a := range p.AttributeDefinitions {
		t.Attributes = append(t.Attributes, types.AttributeDefinition{
			AttributeName: &a.AttributeName, AttributeType: types.ScalarAttributeType(a.AttributeType)})
	}
	for _, g := range p.GlobalSecondaryIndexes {
		t.Indexes = append(t.Indexes, types.GlobalSecondaryIndex{
			IndexName: &g.IndexName,
			KeySchema: keySchema(g.KeySchema),
			Projection: &types.Projection{
				ProjectionType:   types.ProjectionType(g.Projection.ProjectionType),
				NonKeyAttributes: g.Projection.NonKeyAttributes,
			},
		})
	}
	if p.TimeToLiveSpecification.Enabled {
		t.TTLAttribute = p.TimeToLiveSpecification.AttributeName
	}
	return t, nil
}

type keyElement struct{ AttributeName, KeyType string }

func keySchema(in []keyElement) []types.KeySchemaElement {
	out := make([]types.KeySchemaElement, len(in))
	for i, k := range in {
		out[i] = types.KeySchemaElement{AttributeName: &k.AttributeName, KeyType: types.KeyType(k.KeyType)}
	}
	return out
}

func parseQueue(id string, props json.RawMessage) (Queue, error) {
	var p struct {
		VisibilityTimeout      flexInt
		MessageRetentionPeriod flexInt
		DelaySeconds           flexInt
		RedrivePolicy          *struct {
			DeadLetterTargetArn string  `json:"deadLetterTargetArn"`
			MaxReceiveCount     flexInt `json:"maxReceiveCount"`
		}
	}
	if len(props) > 0 {
		if err := json.Unmarshal(props, &p); err != nil {
			return Queue{}, err
		}
	}
	q := Queue{
		LogicalID:                id,
		VisibilityTimeoutSeconds: int(p.VisibilityTimeout),
		MessageRetentionSeconds:  int(p.MessageRetentionPeriod),
		DelaySeconds:             int(p.DelaySeconds),
	}
	if q.VisibilityTimeoutSeconds == 0 {
		q.VisibilityTimeoutSeconds = 30 // SQS's default
	}
	if r := p.RedrivePolicy; r != nil {
		target, ok := strings.CutPrefix(r.DeadLetterTargetArn, getAttPrefix)
		if !ok || !strings.HasSuffix(target, ".Arn") {
			return Queue{}, fmt.Errorf("deadLetterTargetArn must be !GetAtt <Queue>.Arn, got %q", r.DeadLetterTargetArn)
		}
		q.DeadLetterQueue = strings.TrimSuffix(target, ".Arn")
		q.MaxReceiveCount = int(r.MaxReceiveCount)
	}
	return q, nil
}

// getAttPrefix marks an unresolved !GetAtt in resolved values.
const getAttPrefix = "GetAtt:"

// resolve turns a YAML node into plain values, replacing !Ref to a parameter
// by its default and !GetAtt by a marker; other intrinsics are kept as text.
func resolve(n *yaml.Node, params map[string]string) (any, error) {
	switch n.Tag {
	case "!Ref":
		if v, ok := params[n.Value]; ok {
			return v, nil
		}
		return "Ref:" + n.Value, nil
	case "!GetAtt":
		return getAttPrefix + n.Value, nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return resolve(n.Content[0], params)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := resolve(n.Content[i+1], params)
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := resolve(c, params)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case yaml.AliasNode:
		return resolve(n.Alias, params)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") { // a local tag: an intrinsic function
		return n.Tag + " " + n.Value, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func roundTrip(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// flexInt accepts a number or a string of digits, as CloudFormation does.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*f = flexInt(n)
	return nil
}

// flexBool accepts a boolean or "true"/"false".
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseBool(strings.Trim(string(b), `"`))
	if err != nil {
		return fmt.Errorf("not a boolean: %s", b)
	}
	*f = flexBool(v)
	return nil
}
