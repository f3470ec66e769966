// Package appliancetest runs a real in-process broker, with its admin
// endpoint, for the tests of the appliance's sub-packages (metrics, status
// page, admin API): one harness instead of a copy in each.
//
//	farm := appliancetest.Farm(t, "ts01", "ts02")
//	tb := appliancetest.Start(t, yamlTemplate, farm, func(b *appliance.Broker, log *slog.Logger) admin.Options {
//		return admin.Options{Logger: log, Metrics: metrics.Handler(reg(b))}
//	})
//	// tb.Addr: the broker; tb.AdminURL: "http://127.0.0.1:PORT"
package appliancetest

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// Broker is a running broker and its admin endpoint.
type Broker struct {
	*appliance.Broker
	Addr     string             // the client listener
	AdminURL string             // the admin endpoint's base URL, no trailing slash
	Logs     *rdptest.LogBuffer // everything the broker logged
}

// Farm starts fake RDP servers named names, closed when the test ends.
func Farm(t testing.TB, names ...string) map[string]*rdptest.Server {
	m := map[string]*rdptest.Server{}
	for _, n := range names {
		m[n] = rdptest.NewServer(t, rdptest.Config{Name: n})
	}
	return m
}

// Start writes tmpl ({{state_dir}} and {{name}} of each server replaced by
// a temp dir and the servers' addresses), loads it, and runs the broker on
// a free loopback port with an admin endpoint built from opts, until the
// test ends. The broker log is printed if the test failed.
func Start(t *testing.T, tmpl string, servers map[string]*rdptest.Server, opts func(*appliance.Broker, *slog.Logger) admin.Options) *Broker {
	t.Helper()
	cfg := load(t, tmpl, servers)
	logs := &rdptest.LogBuffer{}
	log := logs.Logger(slog.LevelDebug)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := appliance.New(cfg, appliance.Options{Logger: log, Listener: ln})
	if err != nil {
		t.Fatalf("appliance.New: %v", err)
	}
	srv, err := admin.New(admin.DefaultConfig(), opts(b, log))
	if err != nil {
		t.Fatal(err)
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	run(t, b, srv, aln, logs)
	return &Broker{Broker: b, Addr: ln.Addr().String(), AdminURL: "http://" + aln.Addr().String(), Logs: logs}
}

func load(t *testing.T, tmpl string, servers map[string]*rdptest.Server) appliance.Config {
	t.Helper()
	dir := t.TempDir()
	repl := []string{"{{state_dir}}", dir}
	for n, s := range servers {
		repl = append(repl, "{{"+n+"}}", s.Addr())
	}
	path := filepath.Join(dir, "rdpbroker.yaml")
	if err := os.WriteFile(path, []byte(strings.NewReplacer(repl...).Replace(tmpl)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := appliance.LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	return cfg
}

// run runs the broker and the endpoint until the test ends, and waits for
// the broker to be ready.
func run(t *testing.T, b *appliance.Broker, srv *admin.Server, aln net.Listener, logs *rdptest.LogBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done, adone := make(chan error, 1), make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	go func() { adone <- srv.Serve(ctx, aln) }()
	t.Cleanup(func() {
		cancel()
		for _, ch := range []chan error{done, adone} {
			select {
			case err := <-ch:
				if err != nil {
					t.Errorf("stop: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("broker or admin endpoint did not stop within 15s")
			}
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
}
