package bench

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
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RIE runs one Lambda bootstrap under the Lambda Runtime Interface Emulator,
// both bound to 127.0.0.1 on free ports. Invokes must be serialized: RIE
// crashes on two or three concurrent ones.
type RIE struct {
	cmd      *exec.Cmd
	invokeAt string
	logPath  string
	client   *http.Client
}

// StartRIE starts rie with bootstrap and env (added to this process's
// environment) and waits until it accepts invokes. RIE starts the bootstrap
// itself, on the first invoke.
func StartRIE(ctx context.Context, rie, bootstrap string, env map[string]string, logPath string) (*RIE, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// Its own process group, so that Stop takes the bootstrap down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", rie, err)
	}
	r := &RIE{cmd: cmd, invokeAt: "http://" + addr + "/2015-03-31/functions/function/invocations", logPath: logPath,
		client: &http.Client{Timeout: 30 * time.Second}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return r, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = r.Stop()
			return nil, fmt.Errorf("RIE did not listen on %s: %w", addr, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Invoke sends one event and returns the handler's raw reply.
func (r *RIE) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.invokeAt, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoke: %d %s", resp.StatusCode, out)
	}
	return out, nil
}

// Stop kills RIE and the bootstrap (its process group) and waits for RIE.
func (r *RIE) Stop() error {
	if r.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	err := r.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return nil // killed, as asked
	}
	return err
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitDuration is RIE's own measure of the first init (runtime start to its
// first request for work), 0 before any invoke.
func (r *RIE) InitDuration() time.Duration {
	log, err := os.ReadFile(r.logPath)
	if err != nil {
		return 0
	}
	m := initReport.FindSubmatch(log)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return time.Duration(v * float64(time.Millisecond))
}

// Memory is a process's resident set, in bytes.
type Memory struct {
	// HWM is the peak resident set (VmHWM), RSS the current one (VmRSS).
	HWM, RSS int64
}

// BootstrapMemory reads the resident set of the bootstrap RIE started.
func (r *RIE) BootstrapMemory() (Memory, error) {
	pid, err := childOf(r.cmd.Process.Pid)
	if err != nil {
		return Memory{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for _, line := range strings.Split(string(status), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		kb, _ := strconv.ParseInt(fields[0], 10, 64)
		switch name {
		case "VmHWM":
			m.HWM = kb << 10
		case "VmRSS":
			m.RSS = kb << 10
		}
	}
	if m.HWM == 0 {
		return m, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
	}
	return m, nil
}

// childOf finds the only child process of pid in /proc.
func childOf(pid int) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var children []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		rest := stat[bytes.LastIndexByte(stat, ')')+1:]
		fields := strings.Fields(string(rest))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			children = append(children, child)
		}
	}
	if len(children) != 1 {
		sort.Ints(children)
		return 0, fmt.Errorf("process %d has %d children %v, want the bootstrap alone", pid, len(children), children)
	}
	return children[0], nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
