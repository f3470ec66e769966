package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseStraceSummary(t *testing.T) {
	sc, err := parseStraceSummary(filepath.Join("testdata", "strace-haproxy.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		call        string
		calls, errs int64
	}{
		{"first row", "epoll_wait", 20495, 0},
		{"row with errors", "accept4", 11402, 6402},
		{"every connect fails EINPROGRESS", "connect", 5009, 5009},
		{"last row", "rt_sigreturn", 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if sc.calls[tc.call] != tc.calls || sc.errs[tc.call] != tc.errs {
				t.Errorf("%s: calls %d errors %d, want %d %d", tc.call, sc.calls[tc.call], sc.errs[tc.call], tc.calls, tc.errs)
			}
		})
	}
	if _, ok := sc.calls["total"]; ok {
		t.Error("the total row was read as a system call")
	}
	if len(sc.calls) != 17 {
		t.Errorf("%d system calls, want 17: %v", len(sc.calls), sc.calls)
	}
}

func TestParseStraceSummaryEmpty(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(p, []byte("strace: Process 1 attached\n"), 0o600)
	if _, err := parseStraceSummary(p); err == nil {
		t.Error("an output without a table parsed")
	}
}
