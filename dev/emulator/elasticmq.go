package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// AccountID is the account ElasticMQ puts in queue URLs and ARNs.
const AccountID = "000000000000"

// Region is the region ElasticMQ puts in queue ARNs (its default is the
// made-up "elasticmq"; a real one keeps ARNs parseable by the SDK).
const Region = "us-east-1"

// Queue declares one queue in ElasticMQ's config, created before the server
// counts as ready. Zero durations mean the SQS defaults (visibility 30 s, no
// delay, no long polling); a zero visibility timeout cannot be declared, use
// ChangeMessageVisibility instead.
type Queue struct {
	Name                      string
	VisibilityTimeoutSeconds  int
	DelaySeconds              int
	ReceiveMessageWaitSeconds int
	// DeadLetterQueue names another queue of the same list; "" for none.
	DeadLetterQueue string
	// MaxReceiveCount is the redrive policy's maxReceiveCount; required with
	// DeadLetterQueue.
	MaxReceiveCount int
	// FIFO marks a FIFO queue; its name must end in ".fifo".
	FIFO bool
}

// StartElasticMQ writes an ElasticMQ config declaring queues, starts the
// server on a free 127.0.0.1 port, and returns once every queue exists.
// ctx bounds the startup only (90 s when it has no deadline).
func StartElasticMQ(ctx context.Context, opt Options, queues []Queue) (*Server, error) {
	if err := validateQueues(queues); err != nil {
		return nil, err
	}
	dir, err := cacheDir(opt)
	if err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "elasticmq")
	lib := filepath.Join(home, "lib")
	jars, _ := filepath.Glob(filepath.Join(lib, "elasticmq-server_*.jar"))
	if len(jars) == 0 {
		return nil, requireFiles("ElasticMQ", home, filepath.Join(lib, "elasticmq-server_*.jar"))
	}
	return start(ctx, opt, launch{
		name: "elasticmq",
		args: func(port int, logDir string) ([]string, error) {
			conf := filepath.Join(logDir, "elasticmq-"+strconv.Itoa(port)+".conf")
			if err := os.WriteFile(conf, []byte(elasticMQConfig(port, queues)), 0o644); err != nil {
				return nil, fmt.Errorf("emulator: write ElasticMQ config: %w", err)
			}
			return []string{
				"-Dconfig.file=" + conf,
				"-cp", filepath.Join(lib, "*"),
				"org.elasticmq.server.Main",
			}, nil
		},
		ready: func(ctx context.Context, endpoint string) bool {
			return elasticMQReady(ctx, endpoint, queues)
		},
	})
}

// QueueURL returns the URL ElasticMQ gives the named queue (what GetQueueUrl
// and CreateQueue answer): http://127.0.0.1:PORT/000000000000/NAME.
func (s *Server) QueueURL(name string) string {
	return s.Endpoint + "/" + AccountID + "/" + name
}

// QueueARN returns the ARN ElasticMQ gives the named queue, as found in
// QueueArn and in a RedrivePolicy's deadLetterTargetArn.
func QueueARN(name string) string {
	return "arn:aws:sqs:" + Region + ":" + AccountID + ":" + name
}

// queueName is SQS's rule; it also makes quoting names in HOCON trivial.
var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func validateQueues(queues []Queue) error {
	byName := map[string]bool{}
	for _, q := range queues {
		base, isFIFOName := strings.CutSuffix(q.Name, ".fifo")
		if !queueName.MatchString(base) || len(q.Name) > 80 {
			return fmt.Errorf("emulator: invalid queue name %q", q.Name)
		}
		if q.FIFO != isFIFOName {
			return fmt.Errorf("emulator: queue %q: FIFO queues, and only they, have names ending in .fifo", q.Name)
		}
		if byName[q.Name] {
			return fmt.Errorf("emulator: queue %q declared twice", q.Name)
		}
		byName[q.Name] = true
		switch {
		case q.VisibilityTimeoutSeconds < 0 || q.VisibilityTimeoutSeconds > 43200:
			return fmt.Errorf("emulator: queue %q: visibility timeout %d s out of 0..43200", q.Name, q.VisibilityTimeoutSeconds)
		case q.DelaySeconds < 0 || q.DelaySeconds > 900:
			return fmt.Errorf("emulator: queue %q: delay %d s out of 0..900", q.Name, q.DelaySeconds)
		case q.ReceiveMessageWaitSeconds < 0 || q.ReceiveMessageWaitSeconds > 20:
			return fmt.Errorf("emulator: queue %q: receive wait %d s out of 0..20", q.Name, q.ReceiveMessageWaitSeconds)
		case (q.DeadLetterQueue == "") != (q.MaxReceiveCount == 0):
			return fmt.Errorf("emulator: queue %q: DeadLetterQueue and MaxReceiveCount go together", q.Name)
		case q.MaxReceiveCount < 0 || q.MaxReceiveCount > 1000:
			return fmt.Errorf("emulator: queue %q: maxReceiveCount %d out of 1..1000", q.Name, q.MaxReceiveCount)
		case q.DeadLetterQueue == q.Name && q.Name != "":
			return fmt.Errorf("emulator: queue %q is its own dead-letter queue", q.Name)
		}
	}
	for _, q := range queues {
		if q.DeadLetterQueue != "" && !byName[q.DeadLetterQueue] {
			return fmt.Errorf("emulator: queue %q: dead-letter queue %q is not declared", q.Name, q.DeadLetterQueue)
		}
	}
	return nil
}

// elasticMQConfig renders the HOCON config. node-address must match the bind
// address: ElasticMQ builds queue URLs from it, and clients follow those URLs.
func elasticMQConfig(port int, queues []Queue) string {
	var b strings.Builder
	fmt.Fprintf(&b, `include classpath("application.conf")

node-address {
  protocol = http
  host = "127.0.0.1"
  port = %[1]d
  context-path = ""
}
generate-node-address = false

rest-sqs {
  enabled = true
  bind-port = %[1]d
  bind-hostname = "127.0.0.1"
  sqs-limits = strict
}

aws {
  region = %[2]q
  accountId = %[3]q
}

queues {
`, port, Region, AccountID)
	for _, q := range queues {
		fmt.Fprintf(&b, "  %q {\n", q.Name)
		if q.VisibilityTimeoutSeconds > 0 {
			fmt.Fprintf(&b, "    defaultVisibilityTimeout = %d seconds\n", q.VisibilityTimeoutSeconds)
		}
		if q.DelaySeconds > 0 {
			fmt.Fprintf(&b, "    delay = %d seconds\n", q.DelaySeconds)
		}
		if q.ReceiveMessageWaitSeconds > 0 {
			fmt.Fprintf(&b, "    receiveMessageWait = %d seconds\n", q.ReceiveMessageWaitSeconds)
		}
		if q.FIFO {
			b.WriteString("    fifo = true\n")
		}
		if q.DeadLetterQueue != "" {
			fmt.Fprintf(&b, "    deadLettersQueue {\n      name = %q\n      maxReceiveCount = %d\n    }\n", q.DeadLetterQueue, q.MaxReceiveCount)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// elasticMQReady waits for the declared queues, not just the port: ElasticMQ
// opens its port before it creates the queues from its config.
func elasticMQReady(ctx context.Context, endpoint string, queues []Queue) bool {
	status, body, ok := postJSON(ctx, endpoint, "AmazonSQS.ListQueues", "{}", nil)
	if !ok || status != http.StatusOK {
		return false
	}
	var out struct{ QueueUrls []string }
	if err := json.Unmarshal(body, &out); err != nil {
		return false
	}
	have := map[string]bool{}
	for _, u := range out.QueueUrls {
		have[u[strings.LastIndexByte(u, '/')+1:]] = true
	}
	for _, q := range queues {
		if !have[q.Name] {
			return false
		}
	}
	return true
}
