package emulator

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts the JVM in its own process group (so Stop can kill the
// group) and asks the kernel to SIGKILL it if we die first, so a crashed or
// interrupted test run leaves no JVM behind. Pdeathsig fires when the OS
// thread that forked exits, not the process: see startOnce.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// listenerOwnedBy reports whether the TCP listener on port belongs to pid,
// by matching the socket inodes in /proc/net/tcp{,6} against pid's open
// file descriptors. Without /proc it cannot tell and says yes.
func listenerOwnedBy(pid, port int) (bool, error) {
	inodes := map[string]bool{}
	seen := false
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read %s: %w", table, err)
		}
		seen = true
		lines := strings.Split(string(b), "\n")
		for _, line := range lines[1:] {
			f := strings.Fields(line)
			// f[1] is local ADDR:PORT in hex, f[3] the state (0A = LISTEN), f[9] the inode.
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			i := strings.LastIndexByte(f[1], ':')
			p, err := strconv.ParseUint(f[1][i+1:], 16, 16)
			if err != nil || int(p) != port {
				continue
			}
			inodes[f[9]] = true
		}
	}
	if !seen {
		return true, nil
	}
	if len(inodes) == 0 {
		return false, nil
	}
	fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", fdDir, err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(fdDir + "/" + fd.Name())
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
			return true, nil
		}
	}
	return false, nil
}
