package soak

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc/<pid>/stat's times (USER_HZ, 100 on
// Linux everywhere this runs).
const clockTick = 10 * time.Millisecond

// cpuTime is the CPU time (user + system) a process has used so far, read
// from /proc; false where there is none (not Linux, or the process is gone).
func cpuTime(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: count after it.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the name.
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	k, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+k) * clockTick, true
}

// cpuSample is the CPU time of each process of the run at one moment, by
// what it is.
type cpuSample map[string]time.Duration

// sampleCPU reads the CPU time of the emulators, this process and the
// consumer processes running now (summed by role).
func (e *env) sampleCPU(cons []*consumers) cpuSample {
	s := cpuSample{}
	add := func(name string, pid int) {
		if d, ok := cpuTime(pid); ok {
			s[name] += d
		}
	}
	add("DynamoDB Local", e.stack.DynamoDB.PID)
	add("ElasticMQ", e.stack.SQS.PID)
	add("soak process (API, sweepers, clients)", os.Getpid())
	for _, c := range cons {
		for _, pid := range c.pids() {
			add(c.role+" processes", pid)
		}
	}
	return s
}

// since is the CPU used from an earlier sample to this one.
func (s cpuSample) since(before cpuSample) cpuSample {
	out := cpuSample{}
	for k, v := range s {
		out[k] = v - before[k]
	}
	return out
}
