package appliance

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// syncBuffer is a goroutine-safe log sink the tests read from.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the log lines whose msg is msg.
func (s *syncBuffer) lines(msg string) []string {
	var out []string
	for _, l := range strings.Split(s.String(), "\n") {
		if strings.Contains(l, "msg="+msg+" ") || strings.HasSuffix(l, "msg="+msg) {
			out = append(out, l)
		}
	}
	return out
}

// farm starts named fake terminal servers and returns them by name.
func farm(t testing.TB, names ...string) map[string]*rdptest.Server {
	t.Helper()
	m := make(map[string]*rdptest.Server, len(names))
	for _, n := range names {
		s, err := rdptest.Start(rdptest.Config{Name: n})
		if err != nil {
			t.Fatalf("fake server %s: %v", n, err)
		}
		t.Cleanup(func() { s.Close() })
		m[n] = s
	}
	return m
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// writeConfig expands {{name}} placeholders with the servers' addresses
// (and the extra pairs) and writes the YAML into a temp dir.
func writeConfig(t testing.TB, tmpl string, servers map[string]*rdptest.Server, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	repl := []string{"{{state_dir}}", dir}
	for n, s := range servers {
		repl = append(repl, "{{"+n+"}}", s.Addr())
	}
	repl = append(repl, extra...)
	path := filepath.Join(dir, "rdpbroker.yaml")
	if err := os.WriteFile(path, []byte(strings.NewReplacer(repl...).Replace(tmpl)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type testBroker struct {
	*Broker
	addr string
	log  *syncBuffer
}

// startBroker loads the config file and runs a broker on a free loopback
// port until the test ends.
func startBroker(t *testing.T, path string) *testBroker {
	t.Helper()
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	b, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Listener: ln})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("broker did not stop within 15s")
		}
		if t.Failed() {
			t.Logf("broker log:\n%s", logs.String())
		}
	})
	select {
	case <-b.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	return &testBroker{Broker: b, addr: ln.Addr().String(), log: logs}
}

// eventually polls cond until it holds or the timeout expires.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// seenLogins counts the connections a fake server saw with each cookie.
func seenCookies(s *rdptest.Server) map[string]int {
	m := map[string]int{}
	for _, r := range s.Seen() {
		m[r.Cookie]++
	}
	return m
}

// whoSaw returns the names of the servers that saw cookie.
func whoSaw(servers map[string]*rdptest.Server, cookie string) []string {
	var out []string
	for n, s := range servers {
		if seenCookies(s)[cookie] > 0 {
			out = append(out, n)
		}
	}
	return out
}

func fmtSaw(servers map[string]*rdptest.Server) string {
	var b strings.Builder
	for n, s := range servers {
		fmt.Fprintf(&b, "%s=%v ", n, seenCookies(s))
	}
	return b.String()
}
