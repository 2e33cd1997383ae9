// Package emulator starts the local AWS emulators, DynamoDB Local and
// ElasticMQ, as child JVMs on free loopback ports, for integration tests and
// the local runner. The jars are fetched by scripts/fetch-emulators.sh.
//
// Unix only: servers run in their own process group so Stop can take down
// anything the JVM spawned.
package emulator

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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotFetched is wrapped by the Start functions when the emulator jars are
// not in the cache folder.
var ErrNotFetched = errors.New("emulator jars not fetched: run scripts/fetch-emulators.sh (or make emulators)")

// jvmFlags trade peak throughput for startup time and footprint, since a
// test run is short. Measured on a 2-core machine, starting both emulators in
// parallel: 3.2-4.3 s to ready with JDK defaults, 1.8-2.0 s with these.
// C1 only (TieredStopAtLevel=1) is most of the gain: C2 compiler threads no
// longer compete with startup for the two cores. -Xms64m keeps the idle heap
// small (the default initial heap is 1/64 of the machine's memory): idle RSS
// drops from ~180 to ~130 MB for ElasticMQ. SerialGC spares GC threads.
var jvmFlags = []string{
	"-Xms64m", "-Xmx512m",
	"-XX:+UseSerialGC",
	"-XX:TieredStopAtLevel=1",
	// A JVM out of heap can hang half-alive; dying shows up in the test.
	"-XX:+ExitOnOutOfMemoryError",
	// An IPv4 socket makes `ss -ltn` show 127.0.0.1:PORT rather than the
	// IPv4-mapped [::ffff:127.0.0.1]; the binding is loopback-only either way.
	"-Djava.net.preferIPv4Stack=true",
}

const (
	// startTimeout applies when the caller's context has no deadline. Two JVMs
	// start in ~2 s on an idle 2-core machine; `go test ./...` runs packages in
	// parallel, each starting its own pair, so leave generous room.
	startTimeout = 90 * time.Second
	// portAttempts bounds the retries when another process takes the free port
	// between our probe and the JVM's bind.
	portAttempts = 3
	pollInterval = 25 * time.Millisecond
)

// Options tune where a server keeps its files.
type Options struct {
	// LogDir receives the server's combined stdout/stderr (and ElasticMQ's
	// generated config). "" means a fresh temp folder, removed by Stop.
	LogDir string
	// Dir is the emulator cache folder; "" means Dir().
	Dir string
	// PeakThroughput keeps the JVM's optimizing compiler (C2), for servers
	// that live long and carry load, such as make run's: a bulk import into
	// DynamoDB Local runs about 1.7 times as fast, for a slower start.
	PeakThroughput bool
}

// jvmFlags are the flags of a server started with these options.
func (o Options) jvmFlags() []string {
	if !o.PeakThroughput {
		return jvmFlags
	}
	return slices.DeleteFunc(slices.Clone(jvmFlags), func(f string) bool { return f == "-XX:TieredStopAtLevel=1" })
}

// Server is one running emulator process.
type Server struct {
	// Endpoint is the base URL clients use, http://127.0.0.1:PORT.
	Endpoint string
	Port     int
	// PID is the JVM's, also its process group's ID.
	PID int
	// LogFile holds the process's stdout and stderr.
	LogFile string

	name    string
	child   *Child
	tempDir string // removed on Stop when we created it
	logFile *os.File

	stopOnce sync.Once
	stopErr  error
}

// Dir returns the emulator cache folder: $EMULATORS_DIR if set, else
// <repo root>/.cache/emulators, the repo root being the nearest folder at or
// above the working directory that holds go.mod (tests run in their package
// folder, the runner usually at the root).
func Dir() (string, error) {
	if d := os.Getenv("EMULATORS_DIR"); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("emulator: %w", err)
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, ".cache", "emulators"), nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("emulator: no go.mod at or above %s; set EMULATORS_DIR", wd)
		}
		d = parent
	}
}

// Stop kills the server's process group and waits for the JVM to exit.
// Calling it again returns the first result.
func (s *Server) Stop() error {
	if s == nil {
		return nil
	}
	s.stopOnce.Do(func() {
		s.stopErr = s.kill()
		if s.tempDir != "" {
			if err := os.RemoveAll(s.tempDir); err != nil && s.stopErr == nil {
				s.stopErr = fmt.Errorf("emulator: %s: %w", s.name, err)
			}
		}
	})
	return s.stopErr
}

// kill sends SIGKILL rather than SIGTERM: both emulators run in memory, so
// there is nothing to flush, and a graceful JVM shutdown only adds latency.
func (s *Server) kill() error {
	if s.child == nil {
		return nil
	}
	err := s.child.Kill()
	if s.logFile != nil {
		s.logFile.Close()
	}
	if err != nil {
		return fmt.Errorf("emulator: stop %s (pid %d): %w", s.name, s.PID, err)
	}
	return nil
}

// logTail returns the end of the server's log, for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// launch describes how to start one emulator on a given port.
type launch struct {
	name string
	// program is the executable of a server that is not a JVM (moto); ""
	// runs java with the JVM flags.
	program string
	// args builds the program's arguments (for java, after the JVM flags)
	// for a port; it may write files into dir.
	args func(port int, dir string) ([]string, error)
	// ready reports whether the server at endpoint answers as expected.
	ready func(ctx context.Context, endpoint string) bool
	// jvmFlags come from the Options.
	jvmFlags []string
}

// start runs l on a free port, retrying on a new port when the JVM reports
// the port as taken.
func start(ctx context.Context, opt Options, l launch) (*Server, error) {
	program := l.program
	if program == "" {
		java, err := javaBinary()
		if err != nil {
			return nil, err
		}
		program, l.jvmFlags = java, opt.jvmFlags()
	}
	var err error
	logDir, tempDir := opt.LogDir, ""
	if logDir == "" {
		if tempDir, err = os.MkdirTemp("", "emulator-"+l.name+"-"); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
		logDir = tempDir
	} else if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	// The JVMs run in their own working directories: paths handed to them
	// (the ElasticMQ config, the logs) must not be relative to ours.
	if logDir, err = filepath.Abs(logDir); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}

	var lastErr error
	for attempt := 0; attempt < portAttempts; attempt++ {
		port, err := pickPort()
		if err != nil {
			lastErr = err
			break
		}
		s, err := startOnce(ctx, program, logDir, port, l)
		if err == nil {
			s.tempDir = tempDir
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	if tempDir != "" {
		os.RemoveAll(tempDir)
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port taken")

func startOnce(ctx context.Context, program, logDir string, port int, l launch) (*Server, error) {
	args, err := l.args(port, logDir)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, l.name+"-"+strconv.Itoa(port)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	// Not exec.CommandContext: the process must outlive ctx, which only
	// bounds the startup.
	cmd := exec.Command(program, append(append([]string{}, l.jvmFlags...), args...)...)
	cmd.Dir = logDir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	child, err := StartChild(cmd)
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("emulator: start %s: %w", l.name, err)
	}
	s := &Server{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		Port:     port,
		PID:      child.PID,
		LogFile:  logPath,
		name:     l.name,
		child:    child,
		logFile:  logFile,
	}

	if err := s.waitReady(ctx, l); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// waitReady polls until l.ready succeeds on a listener that belongs to our
// process. The ownership check matters because the port is only reserved
// while we probe it: a concurrent test run may start its own emulator on the
// same port, and its answers must not pass for ours.
func (s *Server) waitReady(ctx context.Context, l launch) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if s.child.Exited() {
			if portTakenIn(s.logTail()) {
				return fmt.Errorf("emulator: %s on port %d: %w", s.name, s.Port, errPortTaken)
			}
			return fmt.Errorf("emulator: %s exited before it was ready (%v); log %s:\n%s", s.name, s.child.Err(), s.LogFile, s.logTail())
		}
		if l.ready(ctx, s.Endpoint) {
			owned, err := listenerOwnedBy(s.PID, s.Port)
			if err != nil {
				return fmt.Errorf("emulator: %s: %w", s.name, err)
			}
			if owned {
				return nil
			}
		}
		// ElasticMQ stays up after failing to bind, so the log is the only sign.
		if portTakenIn(s.logTail()) {
			return fmt.Errorf("emulator: %s on port %d: %w", s.name, s.Port, errPortTaken)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("emulator: %s not ready on port %d: %w; log %s:\n%s", s.name, s.Port, ctx.Err(), s.LogFile, s.logTail())
		case <-tick.C:
		}
	}
}

func portTakenIn(log string) bool {
	return strings.Contains(log, "Address already in use")
}

// pickPort is a variable so tests can hand out a taken port.
var pickPort = freePort

// freePort asks the kernel for an unused loopback port. It is free only
// until we close the probe; start retries if it gets taken meanwhile.
func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulator: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// javaBinary prefers $JAVA_HOME so a developer can pin the JDK the emulators
// run on without changing PATH.
func javaBinary() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		p := filepath.Join(home, "bin", "java")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("emulator: java 17+ is needed to run the emulators: %w", err)
	}
	return p, nil
}

// pollClient has a short timeout so one hung probe cannot eat the startup
// deadline; readiness checks are retried anyway.
var pollClient = &http.Client{Timeout: 2 * time.Second}

// postJSON sends one AWS JSON 1.0 request and returns the status and body.
// A connection error is not an error here: the server is not listening yet.
func postJSON(ctx context.Context, endpoint, target, body string, header http.Header) (int, []byte, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewBufferString(body))
	if err != nil {
		return 0, nil, false
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", target)
	resp, err := pollClient.Do(req)
	if err != nil {
		return 0, nil, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, false
	}
	return resp.StatusCode, b, true
}

func requireFiles(what, dir string, paths ...string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("emulator: %s: %s missing in %s: %w", what, filepath.Base(p), dir, ErrNotFetched)
		}
	}
	return nil
}

func cacheDir(opt Options) (string, error) {
	if opt.Dir != "" {
		return filepath.Abs(opt.Dir)
	}
	return Dir()
}

// Start starts DynamoDB Local and ElasticMQ in parallel, the JVM startups
// overlapping. On error neither is left running. Like StartDynamoDB and
// StartElasticMQ, ctx bounds the startup only.
func Start(ctx context.Context, opt Options, queues []Queue) (dynamo, sqs *Server, err error) {
	var dynamoErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		dynamo, dynamoErr = StartDynamoDB(ctx, opt)
	}()
	sqs, sqsErr := StartElasticMQ(ctx, opt, queues)
	<-done
	if err := errors.Join(dynamoErr, sqsErr); err != nil {
		return nil, nil, errors.Join(err, dynamo.Stop(), sqs.Stop())
	}
	return dynamo, sqs, nil
}
