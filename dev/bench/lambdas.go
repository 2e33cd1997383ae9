package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// LambdaOptions bound the runs of the real bootstraps under RIE.
type LambdaOptions struct {
	// RIE is the aws-lambda-rie binary.
	RIE string
	// Bootstraps are the bootstrap binaries (this machine's architecture)
	// by function: "transfer", "status", "processor".
	Bootstraps map[string]string
	// ColdStarts is the number of fresh RIE processes started per
	// function, each timed on its first invoke.
	ColdStarts int
	// Invokes is the number of serialized invokes of the transfer and status
	// functions in one process; the processor gets the messages the transfer
	// invokes sent, in batches of 10 (its cold starts get one message each).
	Invokes int
	// LogDir receives RIE's output.
	LogDir string
	// Env is added to the functions' environment (e.g. GOGC), to try a
	// setting before proposing it for template.yaml.
	Env map[string]string
}

// DefaultLambdas is what `make bench` runs.
var DefaultLambdas = LambdaOptions{ColdStarts: 7, Invokes: 400}

// Purchases is the number of transactionIds Lambdas uses.
func (o LambdaOptions) Purchases() int { return o.ColdStarts + o.Invokes }

// LambdaResult is one function's figures under RIE.
type LambdaResult struct {
	Function string
	// ColdStarts are the times from the first invoke's request to its
	// answer, RIE already listening: process start, Go runtime and main's
	// init, the runtime API handshake, and the handler with its AWS calls.
	ColdStarts []time.Duration
	// Inits are RIE's INIT REPORT durations of the same starts: from the
	// runtime's start to its first request for work.
	Inits []time.Duration
	// Invokes and Messages (processor) of the memory run.
	Invokes, Messages int
	// Warm is the serialized invoke latency of the memory run.
	Warm Latencies
	// Memory is the bootstrap's resident set after the memory run.
	Memory Memory
}

// Lambdas runs the transfer, status and processor bootstraps under RIE
// against the Env's table and queue: cold starts, then a bounded load of
// serialized invokes, after which the bootstrap's peak RSS is read.
func (e *Env) Lambdas(ctx context.Context, opt LambdaOptions) ([]LambdaResult, error) {
	env := e.stack.Env()
	env["TABLE_NAME"] = e.res.Table
	env["TRANSFER_QUEUE_URL"] = e.res.TransferQueueURL()
	env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "10"
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "128"
	// Unbounded, as the in-process service of the earlier phases is: they
	// accept more transfers to the 64 targets than they finalize, and with
	// the mains' default bound (10 per customer) the first transfer here
	// would be refused REQ0007.
	env["MAX_UNFINISHED_PER_CUSTOMER"] = "0"
	env["MAX_UNFINISHED_PER_PUBLISHER"] = "0"
	for k, v := range opt.Env {
		env[k] = v
	}

	var ids []string
	transferEvent := func(ctx context.Context, i int) ([]byte, func([]byte) error, error) {
		txs, err := e.takeTxs(1)
		if err != nil {
			return nil, nil, err
		}
		body := `{"cleengCustomerId": ` + strconv.FormatInt(int64(e.targets[i%len(e.targets)]), 10) +
			`, "transactionId": "` + txs[0] + `", "ipAddress": "203.0.113.7"}`
		ev, err := json.Marshal(GatewayEvent(http.MethodPost, "/purchases/transfers", body, map[string]string{
			"content-type": "application/json", "content-length": strconv.Itoa(len(body)), "x-publisher-token": e.token,
		}))
		return ev, func(reply []byte) error {
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(reply, &resp); err != nil || resp.StatusCode != http.StatusAccepted {
				return fmt.Errorf("transfer invoke: %s", reply)
			}
			var accepted struct{ SynchronizationID string }
			if err := json.Unmarshal([]byte(resp.Body), &accepted); err != nil {
				return err
			}
			ids = append(ids, accepted.SynchronizationID)
			return nil
		}, err
	}
	statusEvent := func(ctx context.Context, i int) ([]byte, func([]byte) error, error) {
		if len(ids) == 0 {
			return nil, nil, fmt.Errorf("no synchronization to poll")
		}
		ev, err := json.Marshal(GatewayEvent(http.MethodGet, "/purchases/synchronizations/"+ids[i%len(ids)], "",
			map[string]string{"x-publisher-token": e.token}))
		return ev, func(reply []byte) error {
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(reply, &resp); err != nil || resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status invoke: %s", reply)
			}
			return nil
		}, err
	}
	messages, batch := 0, 1
	processorEvent := func(ctx context.Context, _ int) ([]byte, func([]byte) error, error) {
		msgs, err := e.receiveUpTo(ctx, batch)
		if err != nil || len(msgs) == 0 {
			return nil, nil, err
		}
		ev, err := json.Marshal(SQSEvent(msgs))
		return ev, func(reply []byte) error {
			var resp events.SQSEventResponse
			if err := json.Unmarshal(reply, &resp); err != nil || len(resp.BatchItemFailures) > 0 {
				return fmt.Errorf("processor invoke: %s", reply)
			}
			messages += len(msgs)
			return e.delete(ctx, msgs)
		}, err
	}

	var out []LambdaResult
	for _, f := range []struct {
		name    string
		invokes int
		event   func(context.Context, int) ([]byte, func([]byte) error, error)
	}{
		{"transfer", opt.Invokes, transferEvent},
		{"status", opt.Invokes, statusEvent},
		{"processor", opt.Invokes, processorEvent}, // stops when the queue is empty
	} {
		bootstrap, ok := opt.Bootstraps[f.name]
		if !ok {
			return out, fmt.Errorf("no bootstrap for %s", f.name)
		}
		r := LambdaResult{Function: f.name}
		// A cold start handles one request or message, like the others;
		// the memory run gets full batches, as the event source mapping
		// sends them under load.
		batch = 1
		for k := range opt.ColdStarts {
			rie, err := StartRIE(ctx, opt.RIE, bootstrap, env, filepath.Join(opt.LogDir, fmt.Sprintf("rie-%s-cold-%d.log", f.name, k)))
			if err != nil {
				return out, err
			}
			ev, check, err := f.event(ctx, k)
			if err == nil && ev == nil {
				err = fmt.Errorf("%s: nothing to invoke", f.name)
			}
			if err != nil {
				_ = rie.Stop()
				return out, err
			}
			t := time.Now()
			reply, err := rie.Invoke(ctx, ev)
			elapsed := time.Since(t)
			if err == nil {
				err = check(reply)
			}
			init := rie.InitDuration()
			_ = rie.Stop()
			if err != nil {
				return out, fmt.Errorf("%s cold start %d: %w", f.name, k, err)
			}
			r.ColdStarts = append(r.ColdStarts, elapsed)
			r.Inits = append(r.Inits, init)
		}

		batch, messages = 10, 0
		rie, err := StartRIE(ctx, opt.RIE, bootstrap, env, filepath.Join(opt.LogDir, "rie-"+f.name+".log"))
		if err != nil {
			return out, err
		}
		var samples []time.Duration
		start := time.Now()
		for i := range f.invokes {
			ev, check, err := f.event(ctx, i)
			if err != nil {
				_ = rie.Stop()
				return out, err
			}
			if ev == nil {
				break
			}
			t := time.Now()
			reply, err := rie.Invoke(ctx, ev)
			samples = append(samples, time.Since(t))
			if err == nil {
				err = check(reply)
			}
			if err != nil {
				_ = rie.Stop()
				return out, fmt.Errorf("%s invoke %d: %w", f.name, i, err)
			}
		}
		r.Warm = Summarize(samples, 0, time.Since(start))
		r.Invokes, r.Messages = len(samples), messages
		r.Memory, err = rie.BootstrapMemory()
		_ = rie.Stop()
		if err != nil {
			return out, fmt.Errorf("%s memory: %w", f.name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// receiveUpTo takes at most n messages from the transfer queue, none if it
// stays empty for a second.
func (e *Env) receiveUpTo(ctx context.Context, n int) ([]sqstypes.Message, error) {
	out, err := e.stack.Clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(e.res.TransferQueueURL()), MaxNumberOfMessages: int32(n), WaitTimeSeconds: 1,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// GatewayEvent is a request as API Gateway HTTP API (payload 2.0) hands it
// to Lambda: lower-case header names, stage $default.
func GatewayEvent(method, rawPath, body string, hdr map[string]string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: rawPath, Headers: hdr, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "123456789012", APIID: "bench", DomainName: "bench.execute-api.us-east-1.amazonaws.com",
			RequestID: "bench-request", RouteKey: "$default", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: rawPath, Protocol: "HTTP/1.1", SourceIP: "192.0.2.9", UserAgent: "bench",
			},
		},
	}
}
