//go:build unix

package emulator

import "syscall"

// killGroup kills the process group led by pid; the JVM is started as its
// own group leader (Setpgid), so this also reaches anything it spawned.
func killGroup(pid int) error {
	return syscall.Kill(-pid, syscall.SIGKILL)
}
