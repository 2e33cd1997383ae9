package emulator_test

import (
	"errors"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/acme/purchase-transfer/dev/emulator"
)

// TestMoto runs the SDK's Secrets Manager client against moto's server:
// bound to loopback, a rotation as the functions see it (AWSCURRENT moves,
// the old version becomes AWSPREVIOUS), and Stop leaves no process behind.
func TestMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto's server (not under -short)")
	}
	s, err := emulator.StartMoto(t.Context(), emulator.Options{})
	if err != nil {
		t.Fatalf("StartMoto: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	if !strings.HasPrefix(s.Endpoint, "http://127.0.0.1:") {
		t.Errorf("Endpoint = %q, want http://127.0.0.1:PORT", s.Endpoint)
	}
	if runtime.GOOS == "linux" {
		for _, addr := range listenAddrs(t, s.PID) {
			if !strings.HasPrefix(addr, "127.0.0.1:") {
				t.Errorf("pid %d listens on %s, want only 127.0.0.1", s.PID, addr)
			}
		}
	}

	ctx := t.Context()
	sm := secretsmanager.NewFromConfig(awsConfig(), func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(s.Endpoint) })
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("k"), SecretString: aws.String("one")}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("k"), SecretString: aws.String("two")}); err != nil {
		t.Fatalf("PutSecretValue: %v", err)
	}
	for stage, want := range map[string]string{"AWSCURRENT": "two", "AWSPREVIOUS": "one"} {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("k"), VersionStage: aws.String(stage)})
		if err != nil || aws.ToString(out.SecretString) != want {
			t.Errorf("GetSecretValue(%s) = %v, want %q", stage, err, want)
		}
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := syscall.Kill(-s.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists after Stop (kill 0: %v)", s.PID, err)
	}
	if resp, err := http.Post(s.Endpoint, "application/json", nil); err == nil {
		resp.Body.Close()
		t.Errorf("%s still answers after Stop", s.Endpoint)
	}
}
