package emulator

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// TestPortTakenRetry hands both emulators a port that is already taken, as
// happens when another process grabs the probed port before the JVM binds
// it, and expects each to start on a next port. ElasticMQ matters most: it
// does not exit when its bind fails, only its log says so.
func TestPortTakenRetry(t *testing.T) {
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	var mu sync.Mutex
	picks := 0
	pickPort = func() (int, error) {
		mu.Lock()
		defer mu.Unlock()
		picks++
		if picks <= 2 { // the first pick of each of the two servers
			return takenPort, nil
		}
		return freePort()
	}
	t.Cleanup(func() { pickPort = freePort })

	logDir := t.TempDir()
	dyn, mq, err := Start(t.Context(), Options{LogDir: logDir}, []Queue{{Name: "q"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer dyn.Stop()
	defer mq.Stop()
	// At least one retry each; on a busy machine another process can take a
	// free port between its pick and the emulator's bind, which is one more
	// retry, and exactly what the retry is for.
	if picks < 4 {
		t.Errorf("%d port picks, want at least 4 (one retry each)", picks)
	}
	for _, s := range []*Server{dyn, mq} {
		if s.Port == takenPort {
			t.Errorf("%s started on the taken port", s.name)
		}
		// The failed attempt's log stays in LogDir and shows why it retried.
		first := filepath.Join(logDir, s.name+"-"+strconv.Itoa(takenPort)+".log")
		if b, err := os.ReadFile(first); err != nil || !portTakenIn(string(b)) {
			t.Errorf("%s does not show the bind failure (%v):\n%s", first, err, b)
		}
	}
}

func TestListenerOwnedBy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ownership is only checked through Linux's /proc")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	if ok, err := listenerOwnedBy(os.Getpid(), port); err != nil || !ok {
		t.Errorf("own listener: owned=%v err=%v, want true", ok, err)
	}

	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	if ok, err := listenerOwnedBy(other.Process.Pid, port); err != nil || ok {
		t.Errorf("another process: owned=%v err=%v, want false", ok, err)
	}

	free, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := listenerOwnedBy(os.Getpid(), free); err != nil || ok {
		t.Errorf("port with no listener: owned=%v err=%v, want false", ok, err)
	}
}
