package lambdatest

import "syscall"

// sysProcAttr puts the emulator in its own process group, so that Stop takes
// the bootstrap down too, and has the kernel kill it if the test binary dies
// first (Pdeathsig follows the forking thread: see startOnce).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
