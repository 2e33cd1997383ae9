package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/acme/purchase-transfer/dev/lambdarie"
)

// RIE runs one Lambda bootstrap under the Lambda Runtime Interface Emulator,
// through lambdarie (both addresses on 127.0.0.1 free ports, invokes
// serialized), keeping its output in a log file.
type RIE struct {
	f       *lambdarie.Function
	logPath string
}

// StartRIE starts rie with bootstrap and env (the function's whole
// environment) and waits until it accepts invokes. RIE starts the bootstrap
// itself, on the first invoke.
func StartRIE(ctx context.Context, rie, bootstrap string, env map[string]string, logPath string) (*RIE, error) {
	f, err := lambdarie.Start(ctx, lambdarie.Config{
		RIE: rie, Bootstrap: bootstrap, Name: filepath.Base(filepath.Dir(bootstrap)),
		Timeout: 10 * time.Second, Env: env,
	})
	if err != nil {
		return nil, err
	}
	return &RIE{f: f, logPath: logPath}, nil
}

// Invoke sends one event and returns the handler's raw reply.
func (r *RIE) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	return r.f.Invoke(ctx, event)
}

// Stop kills RIE and the bootstrap and writes their output to the log file.
func (r *RIE) Stop() error {
	r.f.Stop()
	return os.WriteFile(r.logPath, []byte(r.f.Output()), 0o644)
}

// InitDuration is RIE's own measure of the first init (runtime start to its
// first request for work), 0 before any invoke.
func (r *RIE) InitDuration() time.Duration { return r.f.InitDuration() }

// Memory is a process's resident set, in bytes.
type Memory struct {
	// HWM is the peak resident set (VmHWM), RSS the current one (VmRSS).
	HWM, RSS int64
}

// BootstrapMemory reads the resident set of the bootstrap RIE started.
func (r *RIE) BootstrapMemory() (Memory, error) {
	pid, err := childOf(r.f.PID)
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
