package main

import (
	"strings"
	"testing"
)

func TestCPUCells(t *testing.T) {
	perConn := func(c cell) float64 { return 1000 / float64(max(c.conns, 1)) }
	tests := []struct {
		name             string
		cells            []cell
		wantTotal, split string
	}{
		{"one", []cell{{conns: 1000, cpu: cpuTime{0.045, 0.077}}}, "0.122 [0.122-0.122]", "0.045 + 0.077"},
		{
			// The split is the median repetition's (the second here), not
			// the medians of user and sys taken apart.
			"median repetition",
			[]cell{
				{conns: 1000, cpu: cpuTime{0.100, 0.100}},
				{conns: 1000, cpu: cpuTime{0.010, 0.090}},
				{conns: 1000, cpu: cpuTime{0.090, 0.000}},
			},
			"0.100 [0.090-0.200]", "0.010 + 0.090",
		},
		{"per connection", []cell{{conns: 4000, cpu: cpuTime{0.2, 0.6}}}, "0.200 [0.200-0.200]", "0.050 + 0.150"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			total, split := cpuCells(tc.cells, perConn, f3)
			if total != tc.wantTotal || split != tc.split {
				t.Errorf("cpuCells = %q, %q; want %q, %q", total, split, tc.wantTotal, tc.split)
			}
		})
	}
}

func TestIdleCount(t *testing.T) {
	tests := []struct {
		name      string
		requested int
		want      []string
	}{
		{"clamped", 10000, []string{"10000 sessions were requested (-idle) and 9872 run because a proxy holds 2 descriptors per session", "(20000 - 256) / 2 = 9872", "maxconn 9888", "1 descriptor per session"}},
		{"fits", 500, []string{"500 sessions requested and run; a proxy", "maxconn 4016"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &bench{idleRequested: tc.requested, idleSessions: min(tc.requested, idleCap(20000)), fdLimit: 20000}
			got := idleCount(b)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("idleCount = %q; want it to say %q", got, w)
				}
			}
		})
	}
}
