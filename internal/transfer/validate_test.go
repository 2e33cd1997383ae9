package transfer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

func TestValidSynchronizationID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"", false},
		{"a", true},
		{"01HZX3J1Y6", true},
		{strings.Repeat("a", 256), true},
		{strings.Repeat("a", 257), false},
		{"!", true},
		{"~", true},
		{"a,b", true},
		{"a/b", true},
		{"a b", false},
		{" a", false},
		{"a ", false},
		{"a\tb", false},
		{"a\x7fb", false},
		{"\x00", false},
		{"a\nb", false},
		{"é", false},
		{"caf\u00e9", false},
		{"\xff", false},
		// '/'-separated segments: none empty, none "." or "..".
		{"a/b/c", true},
		{"...", true},
		{".a", true},
		{"a.", true},
		{"a/.../b", true},
		{"a/.b/..c", true},
		{"%2e", false},
		{"%2e%2e/x", false},
		{"a%41", false},
		{"%", false},
		{".", false},
		{"..", false},
		{"a/../b", false},
		{"a/./b", false},
		{"a//b", false},
		{"/a", false},
		{"a/", false},
		{"/", false},
		{"//", false},
		{"./x", false},
		{"../x", false},
		{"x/.", false},
		{"x/..", false},
		{strings.Repeat("a/", 128), false},
		{strings.Repeat("a/", 127) + "a", true},
	}
	for _, tc := range tests {
		if got := transfer.ValidSynchronizationID(tc.id); got != tc.want {
			t.Errorf("ValidSynchronizationID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestValidTransactionID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"", false},
		{"1", true},
		{"2000000123456789", true},
		{"A.z_0-9", true},
		{strings.Repeat("9", 128), true},
		{strings.Repeat("9", 129), false},
		{"a b", false},
		{"a/b", false},
		{"a+b", false},
		{"a:b", false},
		{"a,b", false},
		{"a\x7f", false},
		{"é", false},
		{"tx\n", false},
	}
	for _, tc := range tests {
		if got := transfer.ValidTransactionID(tc.id); got != tc.want {
			t.Errorf("ValidTransactionID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestValidIPv4(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip   string
		want bool
	}{
		{"1.2.3.4", true},
		{"0.0.0.0", true},
		{"255.255.255.255", true},
		{"192.0.2.10", true},
		{"256.1.1.1", false},
		{"1.2.3.256", false},
		{"01.2.3.4", false},
		{"1.2.3.04", false},
		{"1.2.3", false},
		{"1.2.3.4.5", false},
		{"1.2.3.", false},
		{"1..3.4", false},
		{"::ffff:1.2.3.4", false},
		{"::1", false},
		{"2001:db8::1", false},
		{"1.2.3.4%eth0", false},
		{"1.2.3.4/24", false},
		{"1.2.3.4:80", false},
		{" 1.2.3.4", false},
		{"1.2.3.4 ", false},
		{"-1.2.3.4", false},
		{"0x1.2.3.4", false},
		{"16909060", false},
		{"", false},
		{"localhost", false},
	}
	for _, tc := range tests {
		if got := transfer.ValidIPv4(tc.ip); got != tc.want {
			t.Errorf("ValidIPv4(%q) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	base := transfer.Request{Target: 42, TransactionID: "tx-1", IPAddress: "1.2.3.4"}
	fp := base.Fingerprint()
	if len(fp) != 64 || strings.Trim(fp, "0123456789abcdef") != "" {
		t.Errorf("fingerprint %q is not 64 lowercase hex characters", fp)
	}
	same := transfer.Request{Target: 42, TransactionID: "tx-1", IPAddress: "1.2.3.4"}
	if same.Fingerprint() != fp || base.Fingerprint() != fp {
		t.Error("fingerprint of an equal request differs")
	}
	variants := map[string]transfer.Request{
		"target":         {Target: 43, TransactionID: "tx-1", IPAddress: "1.2.3.4"},
		"transaction":    {Target: 42, TransactionID: "tx-2", IPAddress: "1.2.3.4"},
		"ip":             {Target: 42, TransactionID: "tx-1", IPAddress: "1.2.3.5"},
		"no ip":          {Target: 42, TransactionID: "tx-1"},
		"digits shifted": {Target: 4, TransactionID: "2tx-1", IPAddress: "1.2.3.4"},
	}
	seen := map[string]string{fp: "base"}
	for name, r := range variants {
		got := r.Fingerprint()
		if prev, dup := seen[got]; dup {
			t.Errorf("%s has the same fingerprint as %s", name, prev)
		}
		seen[got] = name
	}
}

func TestPurchaseActiveAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		p    transfer.Purchase
		want bool
	}{
		{"active, future expiry", transfer.Purchase{State: transfer.StateActive, ExpiresAt: now.Add(time.Nanosecond)}, true},
		{"active, expires now", transfer.Purchase{State: transfer.StateActive, ExpiresAt: now}, false},
		{"active, past expiry", transfer.Purchase{State: transfer.StateActive, ExpiresAt: now.Add(-time.Hour)}, false},
		{"active, never expires", transfer.Purchase{State: transfer.StateActive}, true},
		{"expired", transfer.Purchase{State: transfer.StateExpired, ExpiresAt: now.Add(time.Hour)}, false},
		{"revoked", transfer.Purchase{State: transfer.StateRevoked}, false},
		{"unknown state", transfer.Purchase{State: "paused"}, false},
	}
	for _, tc := range tests {
		if got := tc.p.ActiveAt(now); got != tc.want {
			t.Errorf("%s: ActiveAt = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A job's hint is used only when it is well formed and names exactly the
// record's transactionId and chain; anything else is no hint at all.
func TestJobHint(t *testing.T) {
	t.Parallel()
	rec := transfer.Synchronization{PublisherID: 7, ID: "s-1", TransactionID: "2000000000000042", OriginalTransactionID: "2000000000000001"}
	unmapped := rec
	unmapped.OriginalTransactionID = ""
	for _, tc := range []struct {
		name      string
		tx, otx   string
		usable    bool
		matches   transfer.Synchronization
		isMatched bool
	}{
		{"the record's own", rec.TransactionID, rec.OriginalTransactionID, true, rec, true},
		{"the record's own, chain unknown", rec.TransactionID, "", true, unmapped, true},
		{"chain missing from the hint", rec.TransactionID, "", true, rec, false},
		{"chain where the record has none", rec.TransactionID, rec.OriginalTransactionID, true, unmapped, false},
		{"another transaction", "2000000000000043", rec.OriginalTransactionID, true, rec, false},
		{"another chain", rec.TransactionID, "2000000000000002", true, rec, false},
		{"none", "", "", false, unmapped, false},
		{"chain only", "", rec.OriginalTransactionID, false, rec, false},
		{"a key separator in the transactionId", "2000000000000042#LOCK", "", false, unmapped, false},
		{"a key separator in the chain", rec.TransactionID, "x#SYNC#s-1", false, rec, false},
		{"too long", strings.Repeat("1", transfer.MaxTransactionIDLength+1), "", false, unmapped, false},
	} {
		job := transfer.Job{PublisherID: 7, SynchronizationID: "s-1", HintTransactionID: tc.tx, HintOriginalTransactionID: tc.otx}
		tx, otx, ok := job.Hint()
		if ok != tc.usable || (ok && (tx != tc.tx || otx != tc.otx)) || (!ok && (tx != "" || otx != "")) {
			t.Errorf("%s: Hint() = %q, %q, %v; want usable %v", tc.name, tx, otx, ok, tc.usable)
		}
		if got := job.HintMatches(tc.matches); got != tc.isMatched {
			t.Errorf("%s: HintMatches = %v, want %v", tc.name, got, tc.isMatched)
		}
	}
	if job := transfer.JobOf(rec); !job.HintMatches(rec) {
		t.Errorf("JobOf(%+v) = %+v does not match its own record", rec, job)
	}
}
