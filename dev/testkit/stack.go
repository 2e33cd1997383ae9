package testkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/dev/emulator"
	"github.com/acme/purchase-transfer/dev/localaws"
)

// StackOptions tune RunWithStack.
type StackOptions struct {
	// Emulator tunes DynamoDB Local and ElasticMQ.
	Emulator emulator.Options
	// Prepare, if set, runs while the emulators start (building bootstraps,
	// say); its failure fails the binary.
	Prepare func(ctx context.Context) error
}

// startTimeout bounds the emulators' start, on a loaded machine too.
const startTimeout = 3 * time.Minute

// RunWithStack is the body of the TestMain of every test binary that needs
// the local stack: it starts DynamoDB Local and ElasticMQ on free loopback
// ports with the template's table and queues, hands the stack to use, runs
// the tests and stops the emulators by their PIDs. Under -short it starts
// nothing and runs the tests, of which those that need the stack skip
// themselves (SkipWithoutStack): `make unit` runs every package that way.
func RunWithStack(m *testing.M, opts StackOptions, use func(*localaws.Stack)) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	prepared := make(chan error, 1)
	go func() {
		if opts.Prepare == nil {
			prepared <- nil
			return
		}
		prepared <- opts.Prepare(ctx)
	}()
	stack, err := localaws.Start(ctx, opts.Emulator)
	if err = errors.Join(err, <-prepared); err != nil {
		fmt.Fprintln(os.Stderr, "local stack:", err)
		if stack != nil {
			_ = stack.Stop()
		}
		return 1
	}
	use(stack)
	code := m.Run()
	if err := stack.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop local stack:", err)
	}
	return code
}

// SkipWithoutStack skips a test that needs the local stack under -short.
func SkipWithoutStack(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs DynamoDB Local and ElasticMQ (not under -short)")
	}
}
