package emulator

import (
	"strings"
	"testing"
)

// StartForTest starts DynamoDB Local and ElasticMQ (declaring queues) in
// parallel and stops both when tb's test ends. It fails tb, never skips it,
// when the emulators are missing or do not start: a skipped integration test
// would hide breakage in CI. Run scripts/fetch-emulators.sh first.
//
// Each call starts two JVMs (~2 s, ~250 MB RSS), so share them: call it in a
// top-level test whose subtests use the servers, or call Start from TestMain.
func StartForTest(tb testing.TB, queues []Queue) (dynamo, sqs *Server) {
	tb.Helper()
	dynamo, sqs, err := Start(tb.Context(), Options{}, queues)
	if err != nil {
		tb.Fatalf("start emulators: %v", err)
	}
	for _, s := range []*Server{dynamo, sqs} {
		tb.Cleanup(func() {
			// Stop removes the log with the server's temp folder: show its
			// end first, while it can still explain the failure.
			if tb.Failed() {
				tb.Logf("%s log %s, last lines:\n%s", s.name, s.LogFile, indent(s.logTail()))
			}
			if err := s.Stop(); err != nil {
				tb.Errorf("%v", err)
			}
		})
	}
	return dynamo, sqs
}

func indent(s string) string {
	return "\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}
