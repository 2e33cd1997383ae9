package runenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteThenRead(t *testing.T) {
	want := map[string]string{
		"PLAIN":  "http://127.0.0.1:3000",
		"SPACES": "a b",
		"QUOTE":  "it's",
		"EMPTY":  "",
		"TOKEN":  "pt_100000001_abc-_DEF",
	}
	path := filepath.Join(t.TempDir(), "run.env")
	if err := Write(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d keys, wrote %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestParseRefusesBrokenLines(t *testing.T) {
	for _, in := range []string{"NOEQUALS\n", "K='open\n", "=v\n"} {
		if _, err := Read(writeRaw(t, in)); err == nil {
			t.Errorf("%q: parsed without error", in)
		}
	}
}

func writeRaw(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
