package samtemplate

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Function is an AWS::Serverless::Function of the template, with the
// template's Globals applied.
type Function struct {
	LogicalID string
	// TimeoutSeconds is the function's timeout (Lambda's default 3 when unset).
	TimeoutSeconds int
	// Environment holds every variable the template declares for the
	// function. A value is the literal, or the default of a referenced
	// parameter; it is "" where only AWS knows the value (a resource's name
	// or URL, a condition, a dynamic reference).
	Environment map[string]string
	// Grants are what its execution role allows (iam.go).
	Grants Grants
	// SQSQueues are the logical ids of the queues its SQS events consume.
	SQSQueues []string
}

// EnvironmentNames are the declared variables' names, sorted.
func (f Function) EnvironmentNames() []string {
	return slices.Sorted(maps.Keys(f.Environment))
}

// Function returns a function by logical id.
func (t *Template) Function(logicalID string) (Function, error) {
	for _, f := range t.Functions {
		if f.LogicalID == logicalID {
			return f, nil
		}
	}
	return Function{}, fmt.Errorf("template declares no function %q", logicalID)
}

type functionProps struct {
	Timeout     *flexInt
	Environment struct {
		Variables map[string]any
	}
}

func parseFunction(id string, props json.RawMessage, globals *yaml.Node, params map[string]string) (Function, error) {
	var g, p functionProps
	if globals.Kind != 0 {
		value, err := resolve(globals, params)
		if err != nil {
			return Function{}, fmt.Errorf("globals: %w", err)
		}
		if err := roundTrip(value, &g); err != nil {
			return Function{}, fmt.Errorf("globals: %w", err)
		}
	}
	if len(props) > 0 {
		if err := json.Unmarshal(props, &p); err != nil {
			return Function{}, err
		}
	}
	f := Function{LogicalID: id, TimeoutSeconds: 3, Environment: map[string]string{}}
	// SAM merges Globals into each function; the function's own value wins.
	for _, src := range []functionProps{g, p} {
		if src.Timeout != nil {
			f.TimeoutSeconds = int(*src.Timeout)
		}
		for name, v := range src.Environment.Variables {
			s, literal := v.(string)
			if !literal || isUnresolved(s) {
				s = ""
			}
			f.Environment[name] = s
		}
	}
	return f, nil
}

// isUnresolved tells the markers resolve leaves for what only AWS resolves.
func isUnresolved(s string) bool {
	return strings.HasPrefix(s, getAttPrefix) || strings.HasPrefix(s, "Ref:") || strings.HasPrefix(s, "!")
}
