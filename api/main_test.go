package api_test

import (
	"log/slog"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The handlers log every refusal; the test output is about the document.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
