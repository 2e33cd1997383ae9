// Package runenv reads and writes .local/run.env, the file through which
// `make run` tells its users (a shell, the AWS CLI, `transferctl --local`)
// where the local stack is and which demo credentials it made. One package
// owns the format so the writer and the readers never disagree.
package runenv

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// DefaultPath is where `make run` writes the file, relative to the
// repository root.
const DefaultPath = ".local/run.env"

// Write stores env as shell KEY=value lines that `source` reads. The file
// holds secrets (tokens, the JWT secret): only its owner may read it.
func Write(path string, env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by `make run`; valid while it runs. Load with: set -a; source " + path + "; set +a\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, quote(env[k]))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Read loads a file written by Write.
func Read(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	env, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return env, nil
}

// Parse reads KEY=value lines as Write produces them: blank lines and
// comments are skipped; a value is bare, single-quoted, or a mix of both that
// sh would join (which is how a quote inside a quoted value is written).
func Parse(r io.Reader) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: not KEY=value", n)
		}
		value, err := unquote(v)
		if err != nil {
			return nil, fmt.Errorf("line %d (%s): %w", n, k, err)
		}
		env[k] = value
	}
	return env, sc.Err()
}

// quote quotes a value for sh only when it needs it.
func quote(v string) string {
	if v != "" && strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./:@%+=,", r))
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// unquote undoes quote: a sequence of bare runs and single-quoted runs, as sh
// would concatenate them.
func unquote(v string) (string, error) {
	var b strings.Builder
	for len(v) > 0 {
		switch v[0] {
		case '\'':
			end := strings.IndexByte(v[1:], '\'')
			if end < 0 {
				return "", fmt.Errorf("unterminated quote")
			}
			b.WriteString(v[1 : 1+end])
			v = v[2+end:]
		case '\\':
			if len(v) < 2 {
				return "", fmt.Errorf("dangling backslash")
			}
			b.WriteByte(v[1])
			v = v[2:]
		default:
			i := strings.IndexAny(v, `'\`)
			if i < 0 {
				i = len(v)
			}
			b.WriteString(v[:i])
			v = v[i:]
		}
	}
	return b.String(), nil
}
