package main

// The service around an upgrade and a stop, with the real binary: what
// systemd hears (against a NOTIFY_SOCKET the test owns), the graceful
// stop on SIGTERM, and a real RDP client (xfreerdp -> xrdp) before and
// after an upgrade.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/affinity"
	"github.com/rdpbroker/rdpbroker/appliance/systemd/sdtest"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// echoFarmConfig is a broker config over one echoing fake server.
func echoFarmConfig(t *testing.T, extra string) func(string) string {
	s := rdptest.NewServer(t, rdptest.Config{Name: "ts01"})
	state := t.TempDir()
	return func(listen string) string {
		return fmt.Sprintf(`
listen: %s
state_dir: %q
%s
default_pool: farm
pools:
  - name: farm
    health: {check: none}
    servers: [{name: ts01, address: %q}]
`, listen, state, extra, s.Addr())
	}
}

// TestUpgradeNotifySequence: READY=1 from the old process, then from the
// new one MAINPID=<its pid> + READY=1 in one datagram, its watchdog
// pings, never STOPPING=1 from the old one, and STOPPING=1 from the new
// one on SIGTERM.
func TestUpgradeNotifySequence(t *testing.T) {
	checkLeftovers(t)
	sock := sdtest.Listen(t)
	t.Setenv("NOTIFY_SOCKET", sock.Path())
	t.Setenv("WATCHDOG_USEC", "400000") // pings every 200 ms
	bin, err := buildBroker(t.TempDir())()
	if err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, bin, "broker", echoFarmConfig(t, "admin: {socket: \"\"}"))
	oldPID := b.proc.cmd.Process.Pid
	if m, err := sock.WaitState(logTimeout, "READY=1"); err != nil || m.PID != oldPID {
		t.Fatalf("READY=1 from the old process: %+v, %v", m, err)
	}
	c, _, err := rdptest.Dial(net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)), "alice", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	skip := len(sock.Messages())
	syscall.Kill(oldPID, syscall.SIGUSR2)
	m, err := sock.WaitStateAfter(skip, upgradeTimeout, "READY=1")
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(b.log(), 20))
	}
	newPID := m.PID
	killOnCleanup(t, newPID)
	if v, _ := m.Value("MAINPID"); newPID == oldPID || v != strconv.Itoa(newPID) {
		t.Fatalf("take-over message %q from pid %d (old %d): want MAINPID=<sender> and READY=1 in one datagram", m.State, m.PID, oldPID)
	}
	if _, err := sock.Wait(logTimeout, func(msgs []sdtest.Message) bool {
		n := 0
		for _, m := range msgs {
			if m.PID == newPID && m.Has("WATCHDOG=1") {
				n++
			}
		}
		return n >= 2
	}); err != nil {
		t.Errorf("no watchdog pings from the new process: %v", err)
	}
	select {
	case <-b.proc.done:
	case <-time.After(upgradeTimeout):
		t.Fatalf("old process still running:\n%s", tail(b.log(), 20))
	}
	syscall.Kill(newPID, syscall.SIGTERM)
	if _, err := sock.Wait(logTimeout, func(msgs []sdtest.Message) bool {
		for _, m := range msgs {
			if m.PID == newPID && m.Has("STOPPING=1") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Errorf("STOPPING=1 from the new process: %v", err)
	}
	for _, m := range sock.Messages() {
		if m.PID == oldPID && (m.Has("STOPPING=1") || m.Has("MAINPID="+strconv.Itoa(oldPID))) {
			t.Errorf("the old process sent %q: systemd would stop the service", m.State)
		}
	}
	var states []string
	for _, m := range sock.Messages() {
		if !m.Has("WATCHDOG=1") {
			states = append(states, fmt.Sprintf("[%d] %q", m.PID, m.State))
		}
	}
	t.Logf("notify sequence (watchdog pings left out): %s", strings.Join(states, ", "))
}

// TestGracefulStop: on SIGTERM the broker stops accepting, /-/ready turns
// 503, sessions go on for shutdown_timeout, then it closes them, flushes
// the affinity table and exits 0.
func TestGracefulStop(t *testing.T) {
	checkLeftovers(t)
	bin, err := buildBroker(t.TempDir())()
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := rdptest.FreeAddr(t)
	cfg := echoFarmConfig(t, fmt.Sprintf("shutdown_timeout: 2s\naffinity: {flush_interval: 1h}\nadmin: {http: %q, socket: \"\"}", httpAddr))
	b := startBroker(t, bin, "broker", cfg)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	c, _, err := rdptest.Dial(addr, "alice", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ready := func() int {
		resp, err := http.Get("http://" + httpAddr + "/-/ready")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if ok, _ := rdptest.Poll(logTimeout, func() (bool, string) { return ready() == 200, "" }); !ok {
		t.Fatalf("/-/ready never 200:\n%s", tail(b.log(), 20))
	}
	stopped := time.Now()
	syscall.Kill(b.proc.cmd.Process.Pid, syscall.SIGTERM)
	if ok, _ := rdptest.Poll(logTimeout, func() (bool, string) {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
		}
		return err != nil, ""
	}); !ok {
		t.Error("still accepting after SIGTERM")
	}
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Errorf("/-/ready while draining: %d, want 503", code)
	}
	// The session still relays while it drains.
	c.SetDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 5)
	if _, err := c.Write([]byte("drain")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "drain" {
		t.Errorf("session while draining: %q, %v", buf, err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c) // closed by the broker at shutdown_timeout
	closedAfter := time.Since(stopped)
	if err != nil || closedAfter < 2*time.Second || closedAfter > 5*time.Second {
		t.Errorf("session closed after %v (err %v), want about shutdown_timeout (2s)", closedAfter, err)
	}
	select {
	case <-b.proc.done:
		if b.proc.waitErr != nil {
			t.Errorf("exit: %v\n%s", b.proc.waitErr, tail(b.log(), 20))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("broker did not exit")
	}
	// flush_interval 1h: only the final flush wrote alice's entry.
	state := strings.TrimSpace(strings.SplitN(strings.SplitN(cfg("x"), "state_dir: ", 2)[1], "\n", 2)[0])
	path, _ := strconv.Unquote(state)
	tab, err := affinity.Open(filepath.Join(path, "affinity.db"), affinity.DefaultConfig(), affinity.Options{Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if srv, ok := tab.Lookup("alice"); !ok || srv != "ts01" {
		t.Errorf("affinity after the stop: alice -> %q %v, want ts01 (flushed at exit)", srv, ok)
	}
}

// TestRealRDPThroughUpgrade: xfreerdp +auth-only through the broker to
// xrdp succeeds before and after an upgrade (RDPBROKER_E2E_REAL=1).
func TestRealRDPThroughUpgrade(t *testing.T) {
	tools := requireRealRDP(t)
	checkLeftovers(t)
	waitBuild := buildBroker(t.TempDir())
	t.Cleanup(func() { waitBuild() })
	cert, key := writeTestCert(t, t.TempDir())
	ts := startXRDP(t, tools, "ts01", cert, key)
	client := newRDPClient(t, tools)
	bin, err := waitBuild()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	b := startBroker(t, bin, "broker", func(listen string) string {
		return fmt.Sprintf("listen: %s\nstate_dir: %q\nadmin: {socket: \"\"}\ndefault_pool: p\npools:\n  - name: p\n    health: {check: none}\n    servers: [{name: ts01, address: %s}]\n",
			listen, state, ts.addr())
	})
	addr := fmt.Sprintf("127.0.0.1:%d", b.port)
	if out, err := client.login(t, addr, "/u:before"); err != nil {
		t.Fatalf("before the upgrade: %v\n%s", err, tail(out, 30))
	}
	syscall.Kill(b.proc.cmd.Process.Pid, syscall.SIGUSR2)
	var newPID int
	if ok, _ := rdptest.Poll(upgradeTimeout, func() (bool, string) {
		newPID = logInt(b.log(), "upgrade done", "new_pid")
		return newPID > 0, ""
	}); !ok {
		t.Fatalf("no upgrade:\n%s", tail(b.log(), 30))
	}
	killOnCleanup(t, newPID)
	if out, err := client.login(t, addr, "/u:after"); err != nil {
		t.Fatalf("after the upgrade: %v\n%s\nbroker:\n%s", err, tail(out, 30), tail(b.log(), 30))
	}
	t.Logf("sessions handed over: %d (the first login's session has ended by then: half_close_timeout)",
		logInt(b.log(), "upgrade done", "handed_over"))
	syscall.Kill(newPID, syscall.SIGTERM)
}
