package main

// The upgrade that keeps every session (issue 16), with the real binary:
// 20 sessions streaming both ways with verified content and 200 idle ones
// go through `ctl upgrade` to a binary of another version and on in the
// new process; a new binary that fails leaves everything on the old one.

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

const (
	upgradeStreams = 20
	upgradeIdle    = 200
	upgradeTimeout = 60 * time.Second // one upgrade, bounded
)

// upgradeFixture is a broker serving 20 streams and 200 idle sessions.
type upgradeFixture struct {
	bin, sock, httpAddr, addr string
	b                         *brokerProc
	streams                   []*verifiedStream
	idle                      []net.Conn
}

func newUpgradeFixture(t *testing.T, bin string) *upgradeFixture {
	t.Helper()
	var servers []string
	for _, n := range []string{"ts01", "ts02"} {
		s := rdptest.NewServer(t, rdptest.Config{Name: n}) // echo
		servers = append(servers, fmt.Sprintf("{name: %s, address: %q}", n, s.Addr()))
	}
	sockDir, err := os.MkdirTemp("", "upg") // a unix socket path is short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	f := &upgradeFixture{bin: bin, sock: filepath.Join(sockDir, "admin.sock"), httpAddr: rdptest.FreeAddr(t)}
	state := t.TempDir()
	f.b = startBroker(t, bin, "broker", func(listen string) string {
		return fmt.Sprintf(`
listen: %s
state_dir: %q
shutdown_timeout: 3s
admin: {http: %q, socket: %q}
default_pool: farm
pools:
  - name: farm
    health: {check: none}
    servers: [%s]
`, listen, state, f.httpAddr, f.sock, strings.Join(servers, ", "))
	})
	f.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(f.b.port))
	for i := range upgradeStreams {
		f.streams = append(f.streams, startStream(t, f.addr, fmt.Sprintf("stream%02d", i), i+1))
	}
	f.idle = dialIdle(t, f.addr, upgradeIdle)
	waitVerified(t, f.streams, 64<<10, 30*time.Second) // everything flows
	rdptest.Poll(logTimeout, func() (bool, string) {   // the admin socket is up
		_, err := os.Stat(f.sock)
		return err == nil, ""
	})
	return f
}

// finish ends every stream and checks its content.
func (f *upgradeFixture) finish(t *testing.T) {
	t.Helper()
	for _, s := range f.streams {
		if err := s.finish(30 * time.Second); err != nil {
			t.Error(err)
		}
	}
}

func TestUpgradeKeepsSessions(t *testing.T) {
	checkLeftovers(t)
	dir := t.TempDir()
	bin, err := buildBroker(dir)()
	if err != nil {
		t.Fatal(err)
	}
	v2 := buildVersion(t, t.TempDir(), "2")
	f := newUpgradeFixture(t, bin)
	oldPID := f.b.proc.cmd.Process.Pid
	if st := upgradeCtlStatus(t, bin, f.sock); st.PID != oldPID {
		t.Fatalf("ctl status before: pid %d, want %d", st.PID, oldPID)
	}
	// The package manager replaces the file; the running binary is not
	// touched.
	if err := os.Rename(v2, bin); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, code := runCtl(t, bin, f.sock, "upgrade")
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("ctl upgrade: exit %d: %s\n%s", code, out, f.b.proc.describe())
	}
	log := f.b.log()
	newPID := logInt(log, "upgrade done", "new_pid")
	if newPID <= 0 {
		t.Fatalf("no upgrade done line:\n%s", tail(log, 30))
	}
	killOnCleanup(t, newPID)
	handed := logInt(log, "upgrade done", "handed_over")
	t.Logf("ctl upgrade of %d sessions: %v (%s: handed_over=%d kept=%d took=%s sessions_took=%s)", upgradeStreams+upgradeIdle,
		took.Round(time.Millisecond), "old process", handed, logInt(log, "upgrade done", "kept"),
		logLines(log, "upgrade done")[0]["took"], logLines(log, "upgrade done")[0]["sessions_took"])
	if handed != upgradeStreams+upgradeIdle {
		t.Errorf("handed over %d sessions, want %d", handed, upgradeStreams+upgradeIdle)
	}
	select {
	case <-f.b.proc.done:
		if f.b.proc.waitErr != nil {
			t.Errorf("old process: %v", f.b.proc.waitErr)
		}
	case <-time.After(upgradeTimeout):
		t.Fatalf("old process %d still running after the upgrade:\n%s", oldPID, tail(f.b.log(), 30))
	}
	if !procAlive(newPID) {
		t.Fatalf("new process %d is gone:\n%s", newPID, tail(f.b.log(), 30))
	}
	if st := upgradeCtlStatus(t, bin, f.sock); st.PID != newPID || st.Version != "2" {
		t.Errorf("ctl status after: pid %d version %q, want pid %d version 2", st.PID, st.Version, newPID)
	}
	// Every session goes on in the new process: the streams keep
	// flowing, the idle ones answer, new clients get in.
	waitVerified(t, f.streams, 256<<10, 30*time.Second)
	pingAll(t, f.idle)
	c, _, err := rdptest.Dial(f.addr, "newcomer", 5*time.Second)
	if err != nil {
		t.Errorf("new client after the upgrade: %v", err)
	} else {
		c.Close()
	}
	f.finish(t)
	if n := logInt(f.b.log(), "upgrade: sessions taken over", "adopted"); n != upgradeStreams+upgradeIdle {
		t.Errorf("new process adopted %d sessions, want %d", n, upgradeStreams+upgradeIdle)
	}
	// The new process logs each stream's whole life: its bytes from the
	// first packet, through the upgrade, to the end.
	want := map[string]int64{}
	for i, s := range f.streams {
		want[fmt.Sprintf("stream%02d", i)] = s.sent.Load()
	}
	ok, why := rdptest.Poll(logTimeout, func() (bool, string) {
		got := 0
		for _, kv := range logLines(f.b.log(), "session") {
			if n, ok := want[kv["cookie"]]; ok && kv["upgrades"] == "1" && kv["bytes_out"] == strconv.FormatInt(n+19, 10) {
				got++
			}
		}
		return got == len(want), fmt.Sprintf("%d of %d stream session lines with upgrades=1 and every byte counted", got, len(want))
	})
	if !ok {
		t.Errorf("%s\n%s", why, tail(f.b.log(), 10))
	}
	syscall.Kill(newPID, syscall.SIGTERM)
	if ok, _ := rdptest.Poll(30*time.Second, func() (bool, string) { return !procAlive(newPID), "" }); !ok {
		t.Errorf("new process ignored SIGTERM")
	}
	if strings.Contains(f.b.log(), "DATA RACE") {
		t.Errorf("data race:\n%s", f.b.log())
	}
}

// TestUpgradeFailureKeepsEverything: a new binary that exits at once, one
// that refuses the configuration, one that fails after it took the
// listeners and the affinity store: each time the old process keeps every
// session, accepts again and the upgrade says why. A good binary then
// upgrades the same process.
func TestUpgradeFailureKeepsEverything(t *testing.T) {
	checkLeftovers(t)
	dir := t.TempDir()
	bin, err := buildBroker(dir)()
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	ctlBin := filepath.Join(t.TempDir(), "rdpbroker") // bin is replaced by broken ones
	if err := os.WriteFile(ctlBin, good, 0o755); err != nil {
		t.Fatal(err)
	}
	f := newUpgradeFixture(t, bin)
	pid := f.b.proc.cmd.Process.Pid
	replace := func(content []byte) {
		t.Helper()
		tmp := bin + ".new"
		if err := os.WriteFile(tmp, content, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, bin); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, want string
		prepare    func()
	}{
		{"binary exits 1", "exited before loading its configuration: exit status 1", func() {
			replace([]byte("#!/bin/sh\necho broken binary >&2\nexit 1\n"))
		}},
		{"configuration refused", "failed before loading its configuration", func() {
			replace(good)
			// The new process reads the file again; the running one does not.
			p := f.b.proc.cmd.Args[len(f.b.proc.cmd.Args)-1]
			b, _ := os.ReadFile(p)
			os.WriteFile(p+".good", b, 0o644)
			if err := os.WriteFile(p, append(b, []byte("\nno_such_key: 1\n")...), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		// Loads and validates (hello), takes the listeners and the store,
		// then fails building its admin socket: the old process takes
		// everything back.
		{"fails after the handover", "failed before serving", func() {
			p := f.b.proc.cmd.Args[len(f.b.proc.cmd.Args)-1]
			b, _ := os.ReadFile(p + ".good")
			bad := strings.Replace(string(b), "admin: {", "admin: {socket_group: no-such-group-here, ", 1)
			if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.prepare()
			syscall.Kill(pid, syscall.SIGUSR2)
			var line map[string]string
			ok, _ := rdptest.Poll(upgradeTimeout, func() (bool, string) {
				l := logLines(f.b.log(), "upgrade failed; this process serves on")
				if len(l) > i {
					line = l[i]
				}
				return line != nil, ""
			})
			if !ok {
				t.Fatalf("no failed upgrade logged:\n%s", tail(f.b.log(), 30))
			}
			if !strings.Contains(line["err"], tc.want) {
				t.Errorf("upgrade error %q, want it to say %q", line["err"], tc.want)
			}
			// Past the hello the old process had stopped accepting and
			// released its store: it took both back (the table is loaded by
			// the old process at start, the new one, the old one again).
			rolledBack := len(logLines(f.b.log(), "upgrade: accepting clients again")) == 1 &&
				len(logLines(f.b.log(), "upgrade: affinity store flushed and released")) == 1 &&
				len(logLines(f.b.log(), "affinity table loaded")) == 3
			if want := tc.name == "fails after the handover"; rolledBack != want {
				t.Errorf("rolled back the listener and the store: %v, want %v\n%s", rolledBack, want, tail(f.b.log(), 20))
			}
			if f.b.proc.exited() {
				t.Fatalf("old process exited:\n%s", f.b.proc.describe())
			}
			waitVerified(t, f.streams, 128<<10, 30*time.Second)
			pingAll(t, f.idle)
			c, _, err := rdptest.Dial(f.addr, fmt.Sprintf("after-fail-%d", i), 5*time.Second)
			if err != nil {
				t.Fatalf("new client after the failed upgrade: %v\n%s", err, tail(f.b.log(), 20))
			}
			c.Close()
			if st := upgradeCtlStatus(t, ctlBin, f.sock); st.PID != pid {
				t.Errorf("ctl status: pid %d, want the old %d", st.PID, pid)
			}
		})
	}
	if n := len(logLines(f.b.log(), "session handed over")); n != 0 {
		t.Errorf("%d sessions handed over by failed upgrades", n)
	}
	// The same process upgrades fine afterwards (its store reopened).
	p := f.b.proc.cmd.Args[len(f.b.proc.cmd.Args)-1]
	if err := os.Rename(p+".good", p); err != nil {
		t.Fatal(err)
	}
	if out, code := runCtl(t, ctlBin, f.sock, "upgrade"); code != 0 {
		t.Fatalf("upgrade after the failures: exit %d: %s\n%s", code, out, tail(f.b.log(), 30))
	}
	newPID := logInt(f.b.log(), "upgrade done", "new_pid")
	killOnCleanup(t, newPID)
	waitVerified(t, f.streams, 128<<10, 30*time.Second)
	pingAll(t, f.idle)
	f.finish(t)
	syscall.Kill(newPID, syscall.SIGTERM)
	rdptest.Poll(30*time.Second, func() (bool, string) { return !procAlive(newPID), "" })
}
