package samtemplate_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/acme/purchase-transfer/internal/metrics"
	"github.com/acme/purchase-transfer/internal/telemetry"
)

// emitted are the metrics internal/telemetry writes.
var emitted = []string{
	telemetry.TransfersAccepted, telemetry.TransfersReplayed, telemetry.Refused, telemetry.StatusPolls,
	telemetry.AppleNotifications, telemetry.Finalized, telemetry.AcceptToFinalized, telemetry.ProcessorRetries,
	telemetry.ProcessorDeadLettered, telemetry.WebhookAttempts, telemetry.WebhookDelivered,
	telemetry.WebhookAttemptDuration, telemetry.WebhookGivenUp, telemetry.SweeperRequeued, telemetry.SweeperRedispatched,
}

// resources are the template's resources by logical id.
func resources(t *testing.T) map[string]*yaml.Node {
	t.Helper()
	_, doc := repoTemplate(t)
	res := nodeAt(doc, "Resources")
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(res.Content); i += 2 {
		out[res.Content[i].Value] = res.Content[i+1]
	}
	return out
}

func ofType(res map[string]*yaml.Node, typ string) []string {
	var ids []string
	for id, n := range res {
		if v := nodeAt(n, "Type"); v != nil && v.Value == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Every function's log group exists, under the name Lambda writes to, with
// the retention parameter; so does the API's access log group.
func TestEveryLogGroupHasARetention(t *testing.T) {
	t.Parallel()
	res := resources(t)
	functions := ofType(res, "AWS::Serverless::Function")
	if len(functions) < 6 {
		t.Fatalf("functions: %v", functions)
	}
	for _, fn := range functions {
		lg := res[fn+"LogGroup"]
		if lg == nil || nodeAt(lg, "Type").Value != "AWS::Logs::LogGroup" {
			t.Errorf("%s has no %sLogGroup", fn, fn)
			continue
		}
		if name := nodeAt(lg, "Properties", "LogGroupName"); name.Tag != "!Sub" || name.Value != "/aws/lambda/${"+fn+"}" {
			t.Errorf("%sLogGroup is named %s %q, not the group Lambda writes to", fn, name.Tag, name.Value)
		}
	}
	for _, id := range ofType(res, "AWS::Logs::LogGroup") {
		if r := nodeAt(res[id], "Properties", "RetentionInDays"); r == nil || r.Tag != "!Ref" || r.Value != "LogRetentionDays" {
			t.Errorf("%s: RetentionInDays is not !Ref LogRetentionDays", id)
		}
	}
	if d := nodeAt(res["Api"], "Properties", "AccessLogSettings", "DestinationArn"); d == nil || !strings.HasPrefix(d.Value, "ApiAccessLogGroup") {
		t.Error("the API's access log does not go to ApiAccessLogGroup")
	}
	format := nodeAt(res["Api"], "Properties", "AccessLogSettings", "Format").Value
	for _, field := range []string{"$context.requestId", "$context.routeKey", "$context.status", "$context.responseLatency"} {
		if !strings.Contains(format, field) {
			t.Errorf("access log format lacks %s", field)
		}
	}
	for _, secret := range []string{"header", "authorizer", "identity"} {
		if strings.Contains(strings.ToLower(format), secret) {
			t.Errorf("access log format logs %s", secret)
		}
	}
}

// Every alarm notifies the topic, every function has its errors and
// throttles alarms, and every alarm on a metric of ours names one that
// internal/telemetry emits, dimensioned by a function of the template.
func TestAlarmsWatchWhatIsEmitted(t *testing.T) {
	t.Parallel()
	res := resources(t)
	watched := map[string]map[string]bool{} // function -> AWS/Lambda metrics alarmed
	for _, id := range ofType(res, "AWS::CloudWatch::Alarm") {
		a := res[id]
		if act := nodeAt(a, "Properties", "AlarmActions"); act == nil || act.Tag != "!If" {
			t.Errorf("%s notifies nobody", id)
		}
		stats := []*yaml.Node{nodeAt(a, "Properties")}
		if ms := nodeAt(a, "Properties", "Metrics"); ms != nil {
			for _, m := range ms.Content {
				if s := nodeAt(m, "MetricStat", "Metric"); s != nil {
					stats = append(stats, s)
				}
			}
		}
		for _, s := range stats {
			ns, name := nodeAt(s, "Namespace"), nodeAt(s, "MetricName")
			if ns == nil {
				continue
			}
			fn := dimension(s, "Function")
			switch ns.Value {
			case metrics.Namespace:
				if !slices.Contains(emitted, name.Value) {
					t.Errorf("%s watches %s, which nothing emits", id, name.Value)
				}
				if fn == "" || res[fn] == nil {
					t.Errorf("%s: Function dimension %q is no function of the template", id, fn)
				}
			case "AWS/Lambda":
				fn = dimension(s, "FunctionName")
				if watched[fn] == nil {
					watched[fn] = map[string]bool{}
				}
				watched[fn][name.Value] = true
			}
		}
	}
	for _, fn := range ofType(res, "AWS::Serverless::Function") {
		if !watched[fn]["Errors"] || !watched[fn]["Throttles"] {
			t.Errorf("%s: alarms on %v, want Errors and Throttles", fn, watched[fn])
		}
	}
	for _, dlq := range []string{"TransferDeadLetterAlarm", "WebhookDeadLetterAlarm", "TransferFailedAlarm", "WebhookGivenUpAlarm",
		"ApiServerErrorRateAlarm", "TransferLatencyAlarm", "TransferQueueAgeAlarm", "WebhookQueueAgeAlarm"} {
		if res[dlq] == nil {
			t.Errorf("no %s", dlq)
		}
	}
}

// dimension is the value (a !Ref's target) of a metric's dimension.
func dimension(metric *yaml.Node, name string) string {
	ds := nodeAt(metric, "Dimensions")
	if ds == nil {
		return ""
	}
	for _, d := range ds.Content {
		if nodeAt(d, "Name").Value == name {
			return nodeAt(d, "Value").Value
		}
	}
	return ""
}

// The dashboard shows only metrics that are emitted, each of them, and
// every alarm.
func TestDashboardShowsWhatIsEmitted(t *testing.T) {
	t.Parallel()
	res := resources(t)
	body := nodeAt(res["Dashboard"], "Properties", "DashboardBody").Value
	var dash struct {
		Widgets []struct {
			Properties struct {
				Metrics []json.RawMessage
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &dash); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v", err)
	}
	seen := map[string]bool{}
	search := regexp.MustCompile(`^SEARCH\('\{PurchaseTransfer,[^}]*\} MetricName="(\w+)"`)
	for _, w := range dash.Widgets {
		var prev []any
		for _, raw := range w.Properties.Metrics {
			var expr struct{ Expression string }
			if json.Unmarshal(raw, &expr) == nil && expr.Expression != "" {
				m := search.FindStringSubmatch(expr.Expression)
				if m == nil {
					t.Errorf("expression %q", expr.Expression)
					continue
				}
				seen[m[1]] = true
				continue
			}
			var row []any
			if err := json.Unmarshal(raw, &row); err != nil || len(row) < 2 {
				t.Fatalf("metric row %s", raw)
			}
			for i := range row {
				if row[i] == "." && i < len(prev) {
					row[i] = prev[i] // "." repeats the row above
				}
			}
			prev = row
			if row[0] == metrics.Namespace {
				seen[row[1].(string)] = true
			}
		}
	}
	for name := range seen {
		if !slices.Contains(emitted, name) {
			t.Errorf("the dashboard shows %s, which nothing emits", name)
		}
	}
	for _, name := range emitted {
		if !seen[name] {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
	for _, id := range ofType(res, "AWS::CloudWatch::Alarm") {
		if !strings.Contains(body, "${"+id+".Arn}") {
			t.Errorf("the dashboard's alarm widget lacks %s", id)
		}
	}
}
