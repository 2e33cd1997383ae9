//go:build unix && !linux

package lambdatest

import "syscall"

// sysProcAttr puts the emulator in its own process group, so that Stop takes
// the bootstrap down too. Outside Linux there is no parent-death signal.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
