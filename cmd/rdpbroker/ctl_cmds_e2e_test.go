package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// TestCtlCommands drives every ctl command against one real broker.
func TestCtlCommands(t *testing.T) {
	e := newCtlEnv(t, "ts01", "ts02", "ts03")
	state, sock := filepath.Join(e.dir, "state"), filepath.Join(e.dir, "run", "admin.sock")
	p := startBroker(t, e.bin, "broker", func(listen string) string {
		return farmConfig(listen, state, sock, e.servers("ts01", "ts02", "ts03"), "")
	})
	mutations := 0

	var st admin.Status
	e.jsonOK(sock, &st, "status")
	if st.PID != p.proc.cmd.Process.Pid || st.Version == "" || !st.Ready {
		t.Errorf("status = pid %d version %q ready %v; want pid %d", st.PID, st.Version, st.Ready, p.proc.cmd.Process.Pid)
	}
	if out := e.ok(sock, "status"); !strings.Contains(out, "pid:") || !strings.Contains(out, strconv.Itoa(st.PID)) {
		t.Errorf("status table:\n%s", out)
	}
	if fi, err := os.Stat(sock); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket %s: mode %v, want 0660", sock, fi.Mode().Perm())
	}

	// A pin is where the next connection goes.
	e.ok(sock, "affinity", "set", `CORP\alice`, "ts01")
	mutations++
	var ent admin.AffinityEntry
	e.jsonOK(sock, &ent, "affinity", "get", "alice")
	if ent.Login != "alice" || ent.Server != "ts01" {
		t.Errorf("affinity get alice = %+v, want alice -> ts01", ent)
	}
	if got := e.route(p, `CORP\alice`); got != "ts01" {
		t.Fatalf("pinned alice reached %q, want ts01", got)
	}

	// Drain: no new user on ts01, alice (affined) still lands there.
	e.ok(sock, "drain", "ts01")
	mutations++
	if s := e.server(sock, "ts01"); s.State != admin.StateDraining || s.Override == nil || !strings.HasPrefix(s.Override.By, "uid 0") {
		t.Errorf("ts01 after drain: %+v", s)
	}
	for i := range 9 {
		if got := e.route(p, fmt.Sprintf("new%02d", i)); got == "ts01" || got == "" {
			t.Errorf("new user %d reached %q while ts01 drains", i, got)
		}
	}
	if got := e.route(p, `CORP\alice`); got != "ts01" {
		t.Errorf("affined alice reached %q while ts01 drains, want ts01", got)
	}

	// route explain names the server the next real connection reaches.
	for _, login := range []string{"explained1", "explained2", `CORP\alice`} {
		var x struct {
			Rule, Pool, Server string
			Candidates         []map[string]any
			Steps              []map[string]any
		}
		e.jsonOK(sock, &x, "route", "explain", login, "--from", "127.0.0.1")
		if x.Pool != "farm" || x.Rule == "" || len(x.Candidates) != 3 || x.Steps == nil {
			t.Errorf("route explain %s = %+v", login, x)
		}
		if got := e.route(p, login); got != x.Server {
			t.Errorf("route explain %s said %q, the connection reached %q", login, x.Server, got)
		}
	}
	if out := e.ok(sock, "route", "explain", "bob"); !strings.Contains(out, "excluded") {
		t.Errorf("route explain table names no excluded (draining) server:\n%s", out)
	}

	// Maint: alice's entry dropped, she goes elsewhere.
	e.ok(sock, "maint", "ts01")
	mutations++
	if _, _, code := e.ctl(sock, "affinity", "get", "alice"); code != 1 {
		t.Errorf("affinity get alice after maint ts01: exit %d, want 1 (no entry)", code)
	}
	if got := e.route(p, `CORP\alice`); got == "ts01" || got == "" {
		t.Errorf("alice reached %q with ts01 in maintenance", got)
	}
	e.ok(sock, "enable", "ts01")
	mutations++
	if s := e.server(sock, "ts01"); s.State != admin.StateEnabled || s.Override != nil {
		t.Errorf("ts01 after enable: %+v", s)
	}

	// Weight: shown beside the configured one.
	e.ok(sock, "weight", "ts02", "7")
	mutations++
	if s := e.server(sock, "ts02"); s.Weight != 7 || s.ConfiguredWeight != 1 {
		t.Errorf("ts02 after weight 7: weight %d configured %d", s.Weight, s.ConfiguredWeight)
	}
	if out := e.ok(sock, "servers", "farm"); !strings.Contains(out, "7 (config 1)") {
		t.Errorf("servers table does not show the weight override:\n%s", out)
	}
	e.ok(sock, "weight", "ts02", "default")
	mutations++

	// Sessions and kill.
	c1 := e.dial(p, "erin")
	defer c1.Close()
	c2 := e.dial(p, "frank")
	defer c2.Close()
	var sess []admin.Session
	rdptest.Eventually(t, logTimeout, "erin's session listed", func() bool {
		e.jsonOK(sock, &sess, "sessions", "--login", "erin")
		return len(sess) == 1
	})
	if sess[0].Server != e.lastServer("erin") || sess[0].Client == "" || sess[0].ID == 0 {
		t.Errorf("sessions --login erin = %+v, want server %s", sess[0], e.lastServer("erin"))
	}
	e.ok(sock, "kill", strconv.FormatUint(sess[0].ID, 10))
	mutations++
	assertClosed(t, c1, "erin's session after kill ID")
	e.ok(sock, "kill", "--login", "frank")
	mutations++
	assertClosed(t, c2, "frank's session after kill --login")
	if _, _, code := e.ctl(sock, "kill", "999999"); code != 1 {
		t.Errorf("kill of an unknown session: exit %d, want 1", code)
	}
	mutations++

	// Affinity editing.
	e.ok(sock, "affinity", "set", "gina", "ts03")
	e.ok(sock, "affinity", "move-server", "ts03", "ts02")
	mutations += 2
	var list []admin.AffinityEntry
	e.jsonOK(sock, &list, "affinity", "list", "--server", "ts03")
	if len(list) != 0 {
		t.Errorf("entries left on ts03 after move-server: %+v", list)
	}
	if got := e.route(p, "gina"); got != "ts02" {
		t.Errorf("gina reached %q after move-server ts03 ts02", got)
	}
	e.ok(sock, "affinity", "clear-server", "ts02")
	e.ok(sock, "affinity", "set", "hugo", "ts03")
	e.ok(sock, "affinity", "del", "hugo")
	mutations += 3
	e.jsonOK(sock, &list, "affinity", "list", "--server", "ts02")
	if len(list) != 0 {
		t.Errorf("entries left on ts02 after clear-server: %+v", list)
	}
	for _, u := range []string{"ivan", "judy", "kurt"} {
		e.ok(sock, "affinity", "set", u, "ts01")
		mutations++
	}
	e.jsonOK(sock, &list, "affinity", "list", "--limit", "2")
	if len(list) != 2 {
		t.Errorf("affinity list --limit 2: %d entries", len(list))
	}

	testUntilRestart(t, e, p, sock)
	mutations++

	// Operations.
	if _, errs, code := e.ctl(sock, "sync", "now"); code != 1 || !strings.Contains(errs, "no directory") {
		t.Errorf("sync now without a directory: exit %d, %q", code, errs)
	}
	// upgrade: TestUpgradeKeepsSessions and TestUpgradeFailureKeepsEverything.
	if out := e.ok(sock, "reload"); !strings.Contains(out, "accepted") {
		t.Errorf("reload: %q", out)
	}
	if err := os.WriteFile(st.ConfigFile, []byte("listen: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := e.ctl(sock, "reload"); code != 1 || !strings.Contains(errs, "keeping the running configuration") {
		t.Errorf("reload of a bad file: exit %d, %q", code, errs)
	}
	mutations += 3

	// Usage errors.
	for _, args := range [][]string{{"drain"}, {"weight", "ts01", "x"}, {"frobnicate"}, {"affinity", "set", "x"}, {"kill"}} {
		if _, _, code := e.ctl(sock, args...); code != 2 {
			t.Errorf("ctl %v: exit %d, want 2", args, code)
		}
	}
	if _, _, code := e.ctl(sock, "drain", "nosuch"); code != 1 {
		t.Errorf("drain of an unknown server: exit %d, want 1", code)
	}
	mutations++

	testSocketRefusesOutsiders(t, e, sock)

	recs := auditLines(t, state)
	if len(recs) != mutations {
		var b strings.Builder
		for _, r := range recs {
			fmt.Fprintf(&b, "%s %s %s %s\n", r.Who, r.What, r.Target, r.Error)
		}
		t.Errorf("%d audit lines for %d mutating calls:\n%s", len(recs), mutations, b.String())
	}
	if len(recs) > 0 && (recs[0].What != "affinity set" || !strings.HasPrefix(recs[0].Who, "uid 0")) {
		t.Errorf("first audit record = %+v", recs[0])
	}
}

// assertClosed waits (bounded) for the broker to close c.
func assertClosed(t *testing.T, c interface {
	Read([]byte) (int, error)
	SetReadDeadline(time.Time) error
}, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			t.Errorf("%s: still open after 5s", what)
		}
		return
	}
}

// testUntilRestart: a drain --until-restart ends by itself once ts03 went
// down and came back on the same address.
func testUntilRestart(t *testing.T, e *ctlEnv, p *brokerProc, sock string) {
	e.ok(sock, "drain", "ts03", "--until-restart")
	if s := e.server(sock, "ts03"); s.State != admin.StateDraining || s.Override == nil || !s.Override.UntilRestart {
		t.Fatalf("ts03 after drain --until-restart: %+v", s)
	}
	addr := e.farm["ts03"].Addr()
	e.farm["ts03"].Close()
	rdptest.Eventually(t, logTimeout, "ts03 seen down", func() bool { return e.server(sock, "ts03").Health == "down" })
	if s := e.server(sock, "ts03"); s.State != admin.StateDraining {
		t.Errorf("ts03 down: state %s, want still draining", s.State)
	}
	e.startServer("ts03", addr)
	rdptest.Eventually(t, logTimeout, "ts03 enabled again after down/up", func() bool {
		s := e.server(sock, "ts03")
		return s.Health == "up" && s.State == admin.StateEnabled
	})
	seen := false
	for i := range 12 {
		seen = seen || e.route(p, fmt.Sprintf("after%02d", i)) == "ts03"
	}
	if !seen {
		t.Error("no new user reached ts03 after its until-restart drain ended")
	}
}

// testSocketRefusesOutsiders: nobody (uid 65534, no groups) is refused by
// the file mode, and by the credentials check when the mode lets it in.
func testSocketRefusesOutsiders(t *testing.T, e *ctlEnv, sock string) {
	if os.Geteuid() != 0 {
		t.Log("not root: cannot run ctl as another user; socket refusal untested")
		return
	}
	for d := filepath.Dir(sock); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // let nobody reach the socket (and the binary) at all
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}
	if _, errs, code := e.ctlAs(nobody, sock, "status"); code != 1 || !strings.Contains(errs, "permission denied") {
		t.Errorf("nobody through a 0660 socket: exit %d, %q", code, errs)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := e.ctlAs(nobody, sock, "drain", "ts01"); code != 1 || !strings.Contains(errs, "neither root") {
		t.Errorf("nobody through a 0666 socket: exit %d, %q", code, errs)
	}
	if s := e.server(sock, "ts01"); s.State != admin.StateEnabled {
		t.Errorf("ts01 after nobody's refused drain: %s", s.State)
	}
	// A member of the socket's group (root's, here) is let in.
	member := &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{0}}
	if out, errs, code := e.ctlAs(member, sock, "status"); code != 0 {
		t.Errorf("a member of the socket's group: exit %d, %q %q", code, out, errs)
	}
}
