package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// ErrMotoNotInstalled is wrapped by StartMoto when moto's server is not in
// the cache folder.
var ErrMotoNotInstalled = errors.New("moto server not installed: run make moto (a virtual environment under .cache)")

// StartMoto starts moto's server (PyPI moto[server], which the Makefile
// installs in a virtual environment under .cache) on a free 127.0.0.1 port,
// as the service's Secrets Manager: the functions read their secrets from it
// with the same GetSecretValue calls they make in AWS. It returns once a
// ListSecrets request succeeds; ctx bounds the startup only. Moto keeps its
// state in memory: every server starts empty.
func StartMoto(ctx context.Context, opt Options) (*Server, error) {
	program, err := motoServer()
	if err != nil {
		return nil, err
	}
	return start(ctx, opt, launch{
		name:    "moto",
		program: program,
		args: func(port int, _ string) ([]string, error) {
			return []string{"-H", "127.0.0.1", "-p", strconv.Itoa(port)}, nil
		},
		ready: motoReady,
	})
}

// motoServer is $MOTO_SERVER (make test sets it to the pinned venv's), else
// the moto_server of the newest .cache/moto-<version> venv of this checkout.
func motoServer() (string, error) {
	if p := os.Getenv("MOTO_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("emulator: MOTO_SERVER: %w", err)
		}
		return p, nil
	}
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	found, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "moto-*", "bin", "moto_server"))
	if len(found) == 0 {
		return "", fmt.Errorf("emulator: no moto-*/bin/moto_server in %s: %w", filepath.Dir(dir), ErrMotoNotInstalled)
	}
	slices.Sort(found)
	return found[len(found)-1], nil
}

// motoReady sends ListSecrets. Moto serves every AWS service on one port and
// tells them apart by the credential scope of the Authorization header; it
// does not check the signature.
func motoReady(ctx context.Context, endpoint string) bool {
	h := http.Header{}
	h.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0")
	status, _, ok := postJSON(ctx, endpoint, "secretsmanager.ListSecrets", "{}", h)
	return ok && status == http.StatusOK
}
