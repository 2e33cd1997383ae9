package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
)

// MaxIDLength bounds a Correlation-Id, and so a synchronizationId.
const MaxIDLength = 256

// MaxTransactionIDLength bounds an Apple transactionId.
const MaxTransactionIDLength = 128

// SynchronizationIDRule says in words what ValidSynchronizationID accepts,
// for the details of a refusal (REQ0004 of a Correlation-Id, REQ0003 of the
// status path parameter).
const SynchronizationIDRule = "must be 1 to 256 visible ASCII characters other than '%', with no empty, '.' or '..' segment between slashes"

// ValidSynchronizationID accepts 1–256 visible ASCII characters whose
// '/'-separated segments are neither empty nor "." or "..": the rule for a
// Correlation-Id header and for the status endpoint's path parameter. A
// synchronizationId may be polled as path segments as sent (a/b), and an
// empty or dot segment there names another path to every HTTP stack that
// normalizes paths (a//b, a/../b, ./x): such an id could not be polled
// reliably, so it is refused up front at the transfer and answered REQ0003
// at the status endpoint. So is '%': in a path it starts an escape, and
// clients that requote URLs (Python's requests, for one) send "%41" as is,
// polling "A" instead of "%41".
func ValidSynchronizationID(id string) bool {
	if id == "" || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e || id[i] == '%' {
			return false
		}
	}
	for seg := range strings.SplitSeq(id, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// ValidTransactionID accepts 1–128 characters of [A-Za-z0-9._-].
func ValidTransactionID(id string) bool {
	if id == "" || len(id) > MaxTransactionIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidIPv4 accepts a dotted-quad IPv4 address, nothing else (no IPv6, no
// IPv4-mapped IPv6, no leading zeros, no zone).
func ValidIPv4(s string) bool {
	addr, err := netip.ParseAddr(s)
	return err == nil && addr.Is4() && strings.Count(s, ".") == 3
}

// Request is a validated transfer request body.
type Request struct {
	Target        CustomerID
	TransactionID string
	IPAddress     string
	// SignedTransactionInfo is the StoreKit 2 signed transaction (a JWS) the
	// customer's device holds, "" when absent: the proof of possession of
	// docs/contract.md §1.7 (AUTH0004). It is checked, never stored.
	SignedTransactionInfo string
}

// Fingerprint identifies the request body, so that a replay of a
// Correlation-Id can be told from its reuse for something else. It covers
// the customer, the transactionId and the ipAddress only: the
// signedTransactionInfo proves who may ask, it is not part of what is asked,
// so the same transfer retried from another device (with that device's own
// signed transaction) is a replay, not a different request.
func (r Request) Fingerprint() string {
	sum := sha256.Sum256([]byte(strconv.FormatInt(int64(r.Target), 10) + "\n" + r.TransactionID + "\n" + r.IPAddress))
	return hex.EncodeToString(sum[:])
}
