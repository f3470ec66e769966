package main

import (
	"math"
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, stat string
		want       cpuTime
	}{
		{"plain", "1234 (haproxy) S 1 1234 1234 0 -1 4194560 1 0 0 0 45 77 0 0 20 0 2 0 100 0 0", cpuTime{0.45, 0.77}},
		{"name with spaces and parens", "42 (a) b (c) R 1 42 42 0 -1 0 0 0 0 0 1203 9 0 0 20 0 1 0 5 0 0", cpuTime{12.03, 0.09}},
		{"truncated", "42 (x) R 1 2 3", cpuTime{}},
		{"no name", "garbage", cpuTime{}},
		{"ends at the name", "42 (x)", cpuTime{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseStat(tc.stat); math.Abs(got.user-tc.want.user) > 1e-9 || math.Abs(got.sys-tc.want.sys) > 1e-9 {
				t.Errorf("parseStat = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestProcCPUOfSelf(t *testing.T) {
	// Spin until the kernel has charged this process a tick (10 ms).
	for deadline := time.Now().Add(2 * time.Second); procCPU(os.Getpid()).total() == 0 && time.Now().Before(deadline); {
	}
	if c := procCPU(os.Getpid()); c.total() <= 0 || c.user < 0 || c.sys < 0 {
		t.Errorf("procCPU(self) = %+v", c)
	}
	if c := procCPU(-1); c != (cpuTime{}) {
		t.Errorf("procCPU(-1) = %+v, want zero", c)
	}
}

func TestDescriptorBudget(t *testing.T) {
	tests := []struct {
		limit       uint64
		idle        int // idle sessions asked for (already clamped)
		wantCap     int
		wantMaxconn int
	}{
		// These machines: 9,872 sessions (rdpbroker's own cap); HAProxy 2.6
		// starts with maxconn 9989 at most (measured), 2*maxconn+21
		// descriptors.
		{20000, 9872, 9872, 9888},
		{20000, 100, 9872, maxInFlight + 16}, // the open loop still fits
		{4096, 1920, 1920, 2032},
		{2048, 896, 896, 1008}, // a small limit caps maxconn too
		{64, 0, 0, 16},
		{10, 0, 0, 0},
		{math.MaxUint64, 10000, math.MaxInt32, 10016}, // RLIM_INFINITY
	}
	for _, tc := range tests {
		if got := idleCap(tc.limit); got != tc.wantCap {
			t.Errorf("idleCap(%d) = %d, want %d", tc.limit, got, tc.wantCap)
		}
		got := haproxyMaxconn(tc.idle, tc.limit)
		if got != tc.wantMaxconn {
			t.Errorf("haproxyMaxconn(%d, %d) = %d, want %d", tc.idle, tc.limit, got, tc.wantMaxconn)
		}
		if tc.limit >= 64 && tc.limit < math.MaxInt32 && 2*got+21 > int(tc.limit) {
			t.Errorf("haproxyMaxconn(%d, %d) = %d: HAProxy would need %d descriptors", tc.idle, tc.limit, got, 2*got+21)
		}
	}
	if l, err := fdLimit(); err != nil || l == 0 {
		t.Errorf("fdLimit = %d, %v", l, err)
	}
}
