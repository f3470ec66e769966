package appliance

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPprofLoopbackOnly(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	tests := []struct{ name, addr, err string }{
		{"any address", "0.0.0.0:0", "not a loopback"},
		{"LAN address", "10.1.2.3:6060", "not a loopback"},
		{"host name", "localhost:6060", "want a loopback IP:port"},
		{"no port", "127.0.0.1", "want a loopback IP:port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := startPprof(t.Context(), tc.addr, log); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("startPprof(%q) = %v, want an error with %q", tc.addr, err, tc.err)
			}
		})
	}
}

func TestPprofServesProfiles(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	addr, err := startPprof(ctx, "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/debug/pprof/profile?seconds=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		t.Errorf("CPU profile: status %d, %d bytes, want a gzipped profile", resp.StatusCode, len(body))
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.Get("http://" + addr + "/debug/pprof/cmdline"); err != nil {
			break // closed with its context
		}
		if time.Now().After(deadline) {
			t.Fatal("profiler still serving after its context ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
