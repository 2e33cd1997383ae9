//go:build unix

package emulator

import (
	"errors"
	"os/exec"
	"runtime"
	"syscall"
)

// Child is a process started in its own process group, so that Kill takes
// down whatever it spawned too, and on Linux killed by the kernel if we die
// first. The emulators' JVMs run as Children, and so does aws-lambda-rie in
// the Lambda tests.
type Child struct {
	// PID is the process's, also its process group's ID.
	PID  int
	done chan struct{} // closed once Wait has returned
	err  error         // Wait's answer, once done
}

// StartChild starts cmd as a Child; it sets cmd.SysProcAttr.
func StartChild(cmd *exec.Cmd) (*Child, error) {
	cmd.SysProcAttr = sysProcAttr()
	c := &Child{done: make(chan struct{})}
	// The parent-death signal is tied to the OS thread that forks, not to
	// our process, and Go retires a thread when a goroutine locked to it
	// exits. Forking and waiting from one goroutine that stays locked for
	// the child's whole life keeps that thread, so the child dies only with us.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	c.PID = cmd.Process.Pid
	return c, nil
}

// Done is closed when the process has exited (and was reaped).
func (c *Child) Done() <-chan struct{} { return c.done }

// Exited reports whether the process has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Err is how the process exited, once Done is closed.
func (c *Child) Err() error { return c.err }

// Kill sends SIGKILL to the process group, unless the process already exited
// (its PID may then belong to someone else), and waits for the exit.
func (c *Child) Kill() error {
	var err error
	if !c.Exited() {
		err = killGroup(c.PID)
	}
	<-c.done
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
