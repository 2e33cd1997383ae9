//go:build unix

// Package lambdarie runs the real Lambda bootstraps on this machine under the
// Lambda Runtime Interface Emulator (aws-lambda-rie), without Docker: the
// same binaries `sam build` packages, built for the host's architecture, one
// emulator process per function, fed events shaped as API Gateway and SQS
// send them.
package lambdarie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/acme/purchase-transfer/dev/emulator"
)

// RepoRoot is the nearest folder at or above the working directory that
// holds go.mod.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("lambdarie: no go.mod at or above %s", wd)
		}
	}
}

// ErrNoRIE is returned by RIEBinary when the emulator is not installed.
var ErrNoRIE = errors.New("aws-lambda-rie not installed: run `make rie` (make test does)")

// RIEBinary is the emulator: $AWS_LAMBDA_RIE (make test sets it), else
// .cache/bin/aws-lambda-rie under the repository root.
func RIEBinary(root string) (string, error) {
	path := os.Getenv("AWS_LAMBDA_RIE")
	if path == "" {
		path = filepath.Join(root, ".cache", "bin", "aws-lambda-rie")
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%w (%v)", ErrNoRIE, err)
	}
	return path, nil
}

// BuildBootstraps builds the named functions' bootstraps (folders under
// functions/) for this machine's architecture into dir/<name>/bootstrap,
// through the Makefile's Lambda build rule, so that flags and tags are the
// ones `sam build` uses.
func BuildBootstraps(ctx context.Context, root, dir string, names ...string) error {
	cmd := exec.CommandContext(ctx, "make", "-s", "-C", root, "build",
		"LAMBDA_ARCH="+runtime.GOARCH, "DIST="+dir, "FUNCTIONS="+strings.Join(names, " "))
	// Under `make test`, the parent make's jobserver descriptors are not ours.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MFLAGS=") && !strings.HasPrefix(kv, "MAKELEVEL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lambdarie: make build: %w\n%s", err, out)
	}
	return nil
}

// Config describes one function to run.
type Config struct {
	// RIE is the emulator binary, Bootstrap the function's.
	RIE, Bootstrap string
	// Name is the function's name (AWS_LAMBDA_FUNCTION_NAME).
	Name string
	// Timeout is the function's timeout: the handler's context deadline.
	Timeout time.Duration
	// Env is the whole environment of the function, as Lambda would set it:
	// region and credentials, and the variables its template declares.
	Env map[string]string
}

// Function is one bootstrap running under its own aws-lambda-rie.
type Function struct {
	Name string
	// PID is the emulator's, also its process group's: the bootstrap is its child.
	PID int

	url     string
	client  *http.Client
	invoke  sync.Mutex // RIE crashes on concurrent invokes
	child   *emulator.Child
	output  *syncBuffer
	stopped sync.Once
}

const (
	startAttempts = 3
	startTimeout  = 30 * time.Second
	pollInterval  = 5 * time.Millisecond
)

// Start runs a bootstrap under aws-lambda-rie, both of the emulator's
// addresses on free loopback ports, and returns once it accepts invokes. The
// bootstrap itself starts on the first invoke, as in Lambda.
func Start(ctx context.Context, c Config) (*Function, error) {
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		f, err := startOnce(ctx, c)
		if err == nil {
			return f, nil
		}
		// A port taken between our probe and RIE's bind: try other ports.
		lastErr = err
	}
	return nil, lastErr
}

func startOnce(ctx context.Context, c Config) (*Function, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	apiAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	runtimeAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
	env := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        c.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(c.Timeout / time.Second)),
	}
	for k, v := range c.Env {
		env[k] = v
	}
	// Not exec.CommandContext: the process outlives ctx, which bounds the start.
	cmd := exec.Command(c.RIE,
		"--runtime-interface-emulator-address", apiAddr,
		"--runtime-api-address", runtimeAddr,
		c.Bootstrap)
	cmd.Dir = filepath.Dir(c.Bootstrap)
	cmd.Env = sortedEnv(env)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that Stop takes the bootstrap down too.
	child, err := emulator.StartChild(cmd)
	if err != nil {
		return nil, fmt.Errorf("lambdarie: start %s: %w", c.Name, err)
	}
	f := &Function{
		Name:   c.Name,
		PID:    child.PID,
		url:    "http://" + apiAddr + "/2015-03-31/functions/function/invocations",
		client: &http.Client{Timeout: c.Timeout + 10*time.Second},
		child:  child,
		output: out,
	}

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		conn, err := net.DialTimeout("tcp", apiAddr, time.Second)
		if err == nil {
			conn.Close()
			return f, nil
		}
		select {
		case <-child.Done():
			return nil, fmt.Errorf("lambdarie: %s: aws-lambda-rie exited at start:\n%s", c.Name, out.String())
		case <-ctx.Done():
			f.Stop()
			return nil, fmt.Errorf("lambdarie: %s: aws-lambda-rie not listening on %s: %w", c.Name, apiAddr, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// Invoke sends one event and returns the handler's raw answer. Invokes of one
// Function are serialized.
func (f *Function) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	f.invoke.Lock()
	defer f.invoke.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambdarie: invoke %s: %w", f.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("lambdarie: invoke %s: %w", f.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("lambdarie: invoke %s: HTTP %d: %s", f.Name, resp.StatusCode, body)
	}
	if fnErr := resp.Header.Get("X-Amz-Function-Error"); fnErr != "" {
		return body, fmt.Errorf("lambdarie: %s failed (%s): %s", f.Name, fnErr, body)
	}
	return body, nil
}

// Output is what the emulator and the bootstrap printed so far.
func (f *Function) Output() string { return f.output.String() }

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitDuration is RIE's own measure of the bootstrap's init (from its start
// to its first request for work), 0 before the first invoke.
func (f *Function) InitDuration() time.Duration {
	m := initReport.FindStringSubmatch(f.Output())
	if m == nil {
		return 0
	}
	ms, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(ms * float64(time.Millisecond))
}

// Stop kills the emulator and the bootstrap and waits for them.
func (f *Function) Stop() {
	f.stopped.Do(func() { _ = f.child.Kill() })
}

// freePorts finds n distinct free loopback ports. They are free only while
// probed: Start retries when the emulator loses the race for one.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("lambdarie: free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func sortedEnv(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
