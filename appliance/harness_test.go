package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

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
	log  *rdptest.LogBuffer
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
	logs := &rdptest.LogBuffer{}
	b, err := New(cfg, Options{Logger: logs.Logger(slog.LevelDebug), Listener: ln})
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
