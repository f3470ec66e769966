package appliance

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

const failoverConfig = `
listen: 127.0.0.1:0
inspect_timeout: 500ms
connect_timeout: 1s
state_dir: "{{state_dir}}"
max_sessions: {{max}}
shutdown_timeout: 200ms
default_pool: general
retries: 2
passive: {max_fails: 1, fail_timeout: 1m}
pools:
  - name: general
    balance: roundrobin
    health: {check: none}
    servers:
      - {name: dead, address: "{{dead}}", weight: 100}
      - {name: ts01, address: "{{ts01}}", weight: 1, max_sessions: {{per_server}}}
`

func TestFailsOverToNextServer(t *testing.T) {
	servers := farm(t, "ts01")
	b := startBroker(t, writeConfig(t, failoverConfig, servers, "{{dead}}", rdptest.FreeAddr(t), "{{max}}", "0", "{{per_server}}", "0"))
	// Smooth weighted round robin picks "dead" (weight 100) first: it fails
	// and the client lands on ts01 in the same connection.
	c, _, err := rdptest.Dial(b.addr, "alice", 3*time.Second)
	if err != nil {
		t.Fatalf("client not failed over: %v", err)
	}
	c.Close()
	if got := b.Counters().ConnectFailures.Load(); got != 1 {
		t.Errorf("connect failures = %d, want 1", got)
	}
	if whoSaw(servers, "alice") == nil {
		t.Fatalf("ts01 did not see alice")
	}
	// Passive failure: the dead server is now skipped without a new dial.
	for i := 0; i < 3; i++ {
		c, _, err := rdptest.Dial(b.addr, "bob", 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if got := b.Counters().ConnectFailures.Load(); got != 1 {
		t.Errorf("connect failures after passive mark = %d, want still 1", got)
	}
}

func TestSessionLimits(t *testing.T) {
	tests := []struct {
		name           string
		global, perSrv string
		wantReject     Reject
	}{
		{"global max_sessions", "1", "0", RejectLimit},
		{"server max_sessions", "0", "1", RejectNoServer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			servers := farm(t, "ts01")
			b := startBroker(t, writeConfig(t, failoverConfig, servers, "{{dead}}", rdptest.FreeAddr(t), "{{max}}", tc.global, "{{per_server}}", tc.perSrv))
			first, _, err := rdptest.Dial(b.addr, "alice", 3*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			rdptest.Eventually(t, 2*time.Second, "first session active", func() bool { return b.Counters().Active.Load() == 1 })
			if c, _, err := rdptest.Dial(b.addr, "bob", 2*time.Second); err == nil {
				c.Close()
				t.Fatalf("second session was admitted over the limit")
			}
			rdptest.Eventually(t, 2*time.Second, "limit reject counted", func() bool { return b.Counters().Rejected(tc.wantReject) == 1 })
			first.Close()
			rdptest.Eventually(t, 2*time.Second, "slot released", func() bool { return b.Counters().Active.Load() == 0 })
			c, _, err := rdptest.Dial(b.addr, "carol", 2*time.Second)
			if err != nil {
				t.Fatalf("session after the first ended: %v", err)
			}
			c.Close()
		})
	}
}

func TestReloadSwapsRoutingWithoutCuttingSessions(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	path := writeConfig(t, routedConfig, servers, "{{no_cookie}}", "default")
	b := startBroker(t, path)
	live, _, err := rdptest.Dial(b.addr, "alice", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	// A broken file is refused and changes nothing.
	bad := strings.Replace(mustRead(t, path), "default_pool: general", "default_pool: nowhere", 1)
	os.WriteFile(path, []byte(bad), 0o600)
	if cfg, err := LoadConfig(path); err == nil {
		t.Fatalf("broken config loaded: %+v", cfg)
	}
	// Move alice from sales to vdi.
	good := strings.Replace(mustRead(t, path), "default_pool: nowhere", "default_pool: general", 1)
	good = strings.Replace(good, "logins: [alice, bob]", "logins: [bob]", 1)
	good = strings.Replace(good, "collection: VDI}", "collection: VDI}\n  - {name: alice-vdi, pool: vdi, logins: [alice]}", 1)
	os.WriteFile(path, []byte(good), 0o600)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(cfg); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	c, _, err := rdptest.Dial(b.addr, "alice", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := seenCookies(servers["ts04"])["alice"]; n != 1 {
		t.Errorf("after reload alice reached vdi %d times, want 1; %s", n, fmtSaw(servers))
	}
	// The session opened before the reload still carries data.
	live.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := live.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := live.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("old session after reload: %q, %v", buf, err)
	}
}

func TestShutdownClosesSessionsAfterTimeout(t *testing.T) {
	servers := farm(t, "ts01")
	cfg, err := LoadConfig(writeConfig(t, failoverConfig, servers, "{{dead}}", rdptest.FreeAddr(t), "{{max}}", "0", "{{per_server}}", "0"))
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	b, err := New(cfg, Options{Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	<-b.Ready()
	c, _, err := rdptest.Dial(ln.Addr().String(), "alice", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after shutdown_timeout (200ms)")
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("session still open after shutdown")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("listener still accepting after shutdown")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
