package httpapi

import (
	"strings"
	"testing"
)

func TestIntegralNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw     string
		want    int64
		integer bool
	}{
		{"42", 42, true}, {"42.0", 42, true}, {"4.2e1", 42, true}, {"4.2E+1", 42, true}, {"420e-1", 42, true},
		{"0.042e3", 42, true}, {"1e3", 1000, true}, {"9223372036854775807", 9223372036854775807, true},
		{"9223372036854775807.000", 9223372036854775807, true}, {"-7", -7, true}, {"0", 0, true}, {"-0", 0, true},
		{"0e-99999999999999999999", 0, true},
		// Integers out of range come back as 0, still integers.
		{"9223372036854775808", 0, true}, {"1e19", 0, true}, {"1e999999999", 0, true}, {"1e99999999999999999999", 0, true},
		{"-9223372036854775809", 0, true},
		// Not integers.
		{"42.5", 0, false}, {"4.25e1", 0, false}, {"42e-1", 0, false}, {"1e-99999999999999999999", 0, false},
		{"0." + strings.Repeat("0", 5000) + "1", 0, false},
		// Not JSON numbers.
		{`"42"`, 0, false}, {"042", 0, false}, {"+42", 0, false}, {"42.", 0, false}, {".5", 0, false}, {"0x2A", 0, false},
		{"true", 0, false}, {"", 0, false}, {"4 2", 0, false}, {"1e", 0, false}, {"NaN", 0, false},
	}
	for _, tc := range tests {
		got, integer := integralNumber([]byte(tc.raw))
		if got != tc.want || integer != tc.integer {
			t.Errorf("integralNumber(%.40q) = %d, %v; want %d, %v", tc.raw, got, integer, tc.want, tc.integer)
		}
	}
}
