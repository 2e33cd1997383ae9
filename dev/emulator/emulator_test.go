package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/acme/purchase-transfer/dev/emulator"
)

var testQueues = []emulator.Queue{
	{Name: "jobs", VisibilityTimeoutSeconds: 30, DeadLetterQueue: "jobs-dlq", MaxReceiveCount: 3},
	{Name: "jobs-dlq", VisibilityTimeoutSeconds: 45},
	{Name: "orders.fifo", FIFO: true, DelaySeconds: 2, ReceiveMessageWaitSeconds: 5},
}

func awsConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
}

// TestEmulators runs the real SDK clients against both emulators, then checks
// that Stop leaves no process behind. Subtests share one pair of JVMs.
func TestEmulators(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DynamoDB Local and ElasticMQ (not under -short)")
	}
	dyn, mq := emulator.StartForTest(t, testQueues)

	t.Run("bound to loopback", func(t *testing.T) {
		for _, s := range []*emulator.Server{dyn, mq} {
			if want := "http://127.0.0.1:" + strconv.Itoa(s.Port); s.Endpoint != want {
				t.Errorf("Endpoint = %q, want %q", s.Endpoint, want)
			}
			if runtime.GOOS == "linux" {
				for _, addr := range listenAddrs(t, s.PID) {
					if !strings.HasPrefix(addr, "127.0.0.1:") {
						t.Errorf("pid %d listens on %s, want only 127.0.0.1", s.PID, addr)
					}
				}
			}
		}
	})

	t.Run("dynamodb transaction cancellation reasons", func(t *testing.T) {
		testDynamoTransaction(t, dyn)
	})
	t.Run("sqs declared queues", func(t *testing.T) {
		testQueueAttributes(t, mq)
	})
	t.Run("sqs receive count and redrive to DLQ", func(t *testing.T) {
		testRedrive(t, mq)
	})

	t.Run("stop", func(t *testing.T) {
		for _, s := range []*emulator.Server{dyn, mq} {
			if err := s.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if err := s.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
			if err := syscall.Kill(s.PID, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("pid %d still exists after Stop (kill 0: %v)", s.PID, err)
			}
			if err := syscall.Kill(-s.PID, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process group %d still exists after Stop (kill 0: %v)", s.PID, err)
			}
			if resp, err := http.Post(s.Endpoint, "application/json", nil); err == nil {
				resp.Body.Close()
				t.Errorf("%s still answers after Stop", s.Endpoint)
			}
		}
	})
}

func testDynamoTransaction(t *testing.T, dyn *emulator.Server) {
	ctx := t.Context()
	db := dynamodb.NewFromConfig(awsConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(dyn.Endpoint)
		o.DisableValidateResponseChecksum = true
	})
	table := aws.String("locks")
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            table,
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	item := func(pk, owner string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{
			"pk":    &ddbtypes.AttributeValueMemberS{Value: pk},
			"owner": &ddbtypes.AttributeValueMemberS{Value: owner},
		}
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: item("lock#1", "sync-a")}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}

	// The second put conflicts with the existing lock; the first would succeed
	// alone, so the reasons must tell the two apart.
	_, err = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []ddbtypes.TransactWriteItem{
			{Put: &ddbtypes.Put{
				TableName:           table,
				Item:                item("record#1", "sync-b"),
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			}},
			{Put: &ddbtypes.Put{
				TableName:                           table,
				Item:                                item("lock#1", "sync-b"),
				ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
				ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
			}},
		},
	})
	var canceled *ddbtypes.TransactionCanceledException
	if !errors.As(err, &canceled) {
		t.Fatalf("TransactWriteItems error = %v, want TransactionCanceledException", err)
	}
	reasons := canceled.CancellationReasons
	if len(reasons) != 2 {
		t.Fatalf("CancellationReasons = %d entries, want 2", len(reasons))
	}
	if got := aws.ToString(reasons[0].Code); got != "None" {
		t.Errorf("reason[0].Code = %q, want None", got)
	}
	if got := aws.ToString(reasons[1].Code); got != "ConditionalCheckFailed" {
		t.Errorf("reason[1].Code = %q, want ConditionalCheckFailed", got)
	}
	if owner, ok := reasons[1].Item["owner"].(*ddbtypes.AttributeValueMemberS); !ok || owner.Value != "sync-a" {
		t.Errorf("reason[1].Item[owner] = %#v, want the current owner sync-a", reasons[1].Item["owner"])
	}

	// Nothing of the canceled transaction may have been written.
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "record#1"},
	}})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if out.Item != nil {
		t.Errorf("record#1 written by a canceled transaction: %v", out.Item)
	}
}

func sqsClient(mq *emulator.Server) *sqs.Client {
	return sqs.NewFromConfig(awsConfig(), func(o *sqs.Options) {
		o.BaseEndpoint = aws.String(mq.Endpoint)
	})
}

func testQueueAttributes(t *testing.T, mq *emulator.Server) {
	ctx := t.Context()
	client := sqsClient(mq)
	want := map[string]map[string]string{
		"jobs":        {"VisibilityTimeout": "30", "DelaySeconds": "0", "ReceiveMessageWaitTimeSeconds": "0"},
		"jobs-dlq":    {"VisibilityTimeout": "45"},
		"orders.fifo": {"FifoQueue": "true", "DelaySeconds": "2", "ReceiveMessageWaitTimeSeconds": "5"},
	}
	for name, attrs := range want {
		got, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatalf("GetQueueUrl(%s): %v", name, err)
		}
		if u := aws.ToString(got.QueueUrl); u != mq.QueueURL(name) {
			t.Errorf("GetQueueUrl(%s) = %s, QueueURL says %s", name, u, mq.QueueURL(name))
		}
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(mq.QueueURL(name)),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("GetQueueAttributes(%s): %v", name, err)
		}
		for k, v := range attrs {
			if out.Attributes[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, out.Attributes[k], v)
			}
		}
		if arn := out.Attributes["QueueArn"]; arn != emulator.QueueARN(name) {
			t.Errorf("%s: QueueArn = %q, want %q", name, arn, emulator.QueueARN(name))
		}
		if name == "jobs" {
			var redrive struct {
				DeadLetterTargetArn string `json:"deadLetterTargetArn"`
				MaxReceiveCount     json.Number
			}
			if err := json.Unmarshal([]byte(out.Attributes["RedrivePolicy"]), &redrive); err != nil {
				t.Fatalf("jobs: RedrivePolicy %q: %v", out.Attributes["RedrivePolicy"], err)
			}
			if redrive.DeadLetterTargetArn != emulator.QueueARN("jobs-dlq") || redrive.MaxReceiveCount.String() != "3" {
				t.Errorf("jobs: RedrivePolicy = %q, want target %s and maxReceiveCount 3", out.Attributes["RedrivePolicy"], emulator.QueueARN("jobs-dlq"))
			}
		}
	}
}

// testRedrive receives one message until the redrive policy moves it, making
// it visible again right away with ChangeMessageVisibility instead of waiting
// out the visibility timeout.
func testRedrive(t *testing.T, mq *emulator.Server) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client := sqsClient(mq)
	jobs, dlq := aws.String(mq.QueueURL("jobs")), aws.String(mq.QueueURL("jobs-dlq"))

	sent, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: jobs, MessageBody: aws.String(`{"id":"t-1"}`)})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}

	// receiveOne long-polls (bounded by WaitTimeSeconds, not a sleep) and
	// returns the message's ApproximateReceiveCount, or 0 if none came.
	receiveOne := func(queue *string) (count int, handle *string) {
		t.Helper()
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    queue,
			MaxNumberOfMessages:         1,
			WaitTimeSeconds:             1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 0 {
			return 0, nil
		}
		m := out.Messages[0]
		if aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) {
			t.Fatalf("received message %s, sent %s", aws.ToString(m.MessageId), aws.ToString(sent.MessageId))
		}
		n, err := strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
		if err != nil {
			t.Fatalf("ApproximateReceiveCount %q: %v", m.Attributes["ApproximateReceiveCount"], err)
		}
		return n, m.ReceiptHandle
	}

	var counts []int
	for {
		if ctx.Err() != nil {
			t.Fatalf("message not moved to the DLQ in time; receive counts so far %v", counts)
		}
		n, handle := receiveOne(jobs)
		if n == 0 {
			break
		}
		counts = append(counts, n)
		if len(counts) > 10 {
			t.Fatalf("message not moved after %v receives", counts)
		}
		if _, err := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: jobs, ReceiptHandle: handle, VisibilityTimeout: 0,
		}); err != nil {
			t.Fatalf("ChangeMessageVisibility: %v", err)
		}
	}
	if want := []int{1, 2, 3}; !equal(counts, want) {
		t.Errorf("ApproximateReceiveCount on jobs = %v, want %v", counts, want)
	}

	n, handle := receiveOne(dlq)
	if handle == nil {
		t.Fatal("message not found in jobs-dlq")
	}
	// ElasticMQ moves the message on the receive after the MaxReceiveCount-th
	// (that receive returns nothing) and keeps counting in the DLQ.
	if n != 4 {
		t.Errorf("ApproximateReceiveCount on the first DLQ receive = %d, want 4", n)
	}
	if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: dlq, ReceiptHandle: handle}); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// listenAddrs returns the local addresses of pid's TCP listeners, read from
// /proc (IPv4 only: the JVMs run with preferIPv4Stack).
func listenAddrs(t *testing.T, pid int) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatalf("read fds: %v", err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name()))
		if ino, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	var addrs []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			addrs = append(addrs, decodeAddr(t, f[1]))
		}
	}
	if len(addrs) == 0 {
		t.Fatalf("pid %d has no TCP listener", pid)
	}
	return addrs
}

// decodeAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080";
// IPv6 entries are returned as "[hex]:port" so they never pass as loopback.
func decodeAddr(t *testing.T, s string) string {
	host, port, _ := strings.Cut(s, ":")
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		t.Fatalf("bad address %q", s)
	}
	if len(host) != 8 {
		return "[" + host + "]:" + strconv.Itoa(int(p))
	}
	v, err := strconv.ParseUint(host, 16, 32)
	if err != nil {
		t.Fatalf("bad address %q", s)
	}
	// The kernel prints the address in host byte order (little endian here).
	return strconv.Itoa(int(v&0xff)) + "." + strconv.Itoa(int(v>>8&0xff)) + "." + strconv.Itoa(int(v>>16&0xff)) + "." + strconv.Itoa(int(v>>24)) + ":" + strconv.Itoa(int(p))
}

func TestStartFailsWhenNotFetched(t *testing.T) {
	t.Setenv("EMULATORS_DIR", t.TempDir())
	ctx := t.Context()
	_, errD := emulator.StartDynamoDB(ctx, emulator.Options{})
	_, errQ := emulator.StartElasticMQ(ctx, emulator.Options{}, testQueues)
	for _, err := range []error{errD, errQ} {
		if !errors.Is(err, emulator.ErrNotFetched) {
			t.Errorf("error = %v, want ErrNotFetched", err)
		}
		if err != nil && !strings.Contains(err.Error(), "scripts/fetch-emulators.sh") {
			t.Errorf("error %q does not say how to fetch", err)
		}
	}

	// StartForTest must fail the test, not skip it: a skip would hide a CI
	// machine without emulators.
	tb := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		emulator.StartForTest(tb, testQueues)
	}()
	<-done
	if tb.skipped || !tb.failed {
		t.Errorf("StartForTest without emulators: failed=%v skipped=%v, want a failure", tb.failed, tb.skipped)
	}
}

// recordingTB records failures and skips instead of reporting them;
// FailNow and SkipNow end the calling goroutine as the real ones do.
type recordingTB struct {
	testing.TB
	failed, skipped bool
}

func (r *recordingTB) Helper()                  {}
func (r *recordingTB) Errorf(string, ...any)    { r.failed = true }
func (r *recordingTB) Error(...any)             { r.failed = true }
func (r *recordingTB) Fail()                    { r.failed = true }
func (r *recordingTB) FailNow()                 { r.failed = true; runtime.Goexit() }
func (r *recordingTB) Fatal(...any)             { r.FailNow() }
func (r *recordingTB) Fatalf(string, ...any)    { r.FailNow() }
func (r *recordingTB) Failed() bool             { return r.failed }
func (r *recordingTB) Skip(...any)              { r.SkipNow() }
func (r *recordingTB) Skipf(string, ...any)     { r.SkipNow() }
func (r *recordingTB) SkipNow()                 { r.skipped = true; runtime.Goexit() }
func (r *recordingTB) Skipped() bool            { return r.skipped }
func (r *recordingTB) Log(...any)               {}
func (r *recordingTB) Logf(string, ...any)      {}
func (r *recordingTB) Cleanup(f func())         { r.TB.Cleanup(f) }
func (r *recordingTB) Context() context.Context { return r.TB.Context() }

func TestDir(t *testing.T) {
	t.Setenv("EMULATORS_DIR", "relative/emulators")
	got, err := emulator.Dir()
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(got) || !strings.HasSuffix(got, filepath.Join("relative", "emulators")) {
		t.Errorf("Dir() with EMULATORS_DIR = %q, want it made absolute", got)
	}

	t.Setenv("EMULATORS_DIR", "")
	got, err = emulator.Dir()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(filepath.Dir(got))
	if filepath.Base(got) != "emulators" || filepath.Base(filepath.Dir(got)) != ".cache" {
		t.Errorf("Dir() = %q, want <root>/.cache/emulators", got)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("Dir() = %q: no go.mod in %s", got, root)
	}
}

func TestQueueValidation(t *testing.T) {
	bad := map[string][]emulator.Queue{
		"duplicate":         {{Name: "a"}, {Name: "a"}},
		"unknown DLQ":       {{Name: "a", DeadLetterQueue: "b", MaxReceiveCount: 3}},
		"DLQ without count": {{Name: "a", DeadLetterQueue: "b"}, {Name: "b"}},
		"count without DLQ": {{Name: "a", MaxReceiveCount: 3}},
		"own DLQ":           {{Name: "a", DeadLetterQueue: "a", MaxReceiveCount: 3}},
		"bad name":          {{Name: "a b"}},
		"empty name":        {{Name: ""}},
		"fifo name":         {{Name: "a.fifo"}},
		"fifo flag":         {{Name: "a", FIFO: true}},
		"wait too long":     {{Name: "a", ReceiveMessageWaitSeconds: 21}},
	}
	for name, queues := range bad {
		// Validation comes before any lookup of jars, so this needs none.
		if _, err := emulator.StartElasticMQ(t.Context(), emulator.Options{Dir: t.TempDir()}, queues); err == nil || errors.Is(err, emulator.ErrNotFetched) {
			t.Errorf("%s: error = %v, want a validation error", name, err)
		}
	}
}
