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
	// QueueEvents are the function's SQS event source mappings.
	QueueEvents []QueueEvent
}

// QueueEvent is an SQS event source mapping of a function: which queue it
// consumes, in batches of how many, by how many concurrent invocations.
type QueueEvent struct {
	// Queue is the logical id of the consumed queue.
	Queue     string
	BatchSize int
	// MaximumConcurrency is ScalingConfig.MaximumConcurrency: the most
	// batches Lambda hands the function at once; 0 when the template sets
	// none (Lambda then scales up to its own limits).
	MaximumConcurrency int
}

// QueueConsumer returns the event source mapping that consumes a queue, by
// the queue's logical id.
func (t *Template) QueueConsumer(queueID string) (QueueEvent, bool) {
	for _, f := range t.Functions {
		for _, e := range f.QueueEvents {
			if e.Queue == queueID {
				return e, true
			}
		}
	}
	return QueueEvent{}, false
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
	Events map[string]struct {
		Type       string
		Properties struct {
			Queue         string
			BatchSize     *flexInt
			ScalingConfig struct {
				MaximumConcurrency *flexInt
			}
		}
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
	for _, name := range slices.Sorted(maps.Keys(p.Events)) {
		e := p.Events[name]
		if e.Type != "SQS" {
			continue
		}
		// Queue is !GetAtt <QueueId>.Arn, resolved to its marker.
		queue, _ := strings.CutSuffix(strings.TrimPrefix(e.Properties.Queue, getAttPrefix), ".Arn")
		q := QueueEvent{Queue: queue, BatchSize: 10}
		if b := e.Properties.BatchSize; b != nil {
			q.BatchSize = int(*b)
		}
		if c := e.Properties.ScalingConfig.MaximumConcurrency; c != nil {
			q.MaximumConcurrency = int(*c)
		}
		f.QueueEvents = append(f.QueueEvents, q)
	}
	return f, nil
}

// isUnresolved tells the markers resolve leaves for what only AWS resolves.
func isUnresolved(s string) bool {
	return strings.HasPrefix(s, getAttPrefix) || strings.HasPrefix(s, "Ref:") || strings.HasPrefix(s, "!")
}
