package main

// Steps 4-6 of the administrator's scenario (scenario_e2e_test.go): the
// administrator's own operations, drain, upgrade and stop.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// otherOf is the other server of name's pool (the pools have two).
func otherOf(name string) string {
	for _, servers := range scenarioPools {
		if i := slices.Index(servers, name); i >= 0 {
			return servers[1-i]
		}
	}
	return ""
}

// waitState waits until n's `ctl servers` shows server in state.
func (s *scenario) waitState(t *testing.T, e *ctlEnv, n *node, server, state string) {
	t.Helper()
	rdptest.EventuallyWhy(t, logTimeout, func() string {
		if got := e.server(n.sock, server); got.State != state {
			return fmt.Sprintf("%s: ctl servers shows %s %s, want %s", n.name, server, got.State, state)
		}
		return ""
	})
}

// Step 4: alice's accounting server is drained on broker 1. Broker 2
// honours it: alice still reaches it, ivan (an Accounting user new to the
// farm, through the nested Payroll) goes to the other one. Enabled again
// at the end, on broker 2.
func (s *scenario) stepDrain(t *testing.T) {
	e := s.ctlEnv(t)
	x := s.placed["alice"]
	if x == "" {
		t.Fatal("alice has no placement (step 1 failed)")
	}
	y := otherOf(x)
	e.ok(s.b1.sock, "drain", x)
	s.waitState(t, e, s.b2, x, admin.StateDraining)
	s.expectSame(t, s.b2, "alice")
	if got := s.expectPool(t, s.b2, "ivan", "accounting"); got != "" && got != y {
		t.Errorf("ivan, new, through broker 2 while %s drains: reached %s, want %s", x, got, y)
	}
	e.ok(s.b2.sock, "enable", x)
	s.waitState(t, e, s.b1, x, admin.StateEnabled)
}

// Step 5: broker 1 hands over to a new process (`ctl upgrade`) while
// erin's connection is open through it: after the upgrade, that very
// connection does its TLS handshake with the xrdp server it was connected
// to, and the upgraded broker serves new logins on the same port.
func (s *scenario) stepUpgrade(t *testing.T) {
	e := s.ctlEnv(t)
	old := s.status(e, s.b1).PID
	c := s.openSession(t, s.b1, "erin")
	defer c.Close()
	out, errOut, code := e.ctl(s.b1.sock, "upgrade")
	if code != 0 {
		t.Fatalf("ctl upgrade on broker 1: exit %d\nstdout: %s\nstderr: %s\n%s", code, out, errOut, tail(s.b1.proc.log(), 20))
	}
	st := s.status(e, s.b1)
	s.watchProcess(st.PID)
	if st.PID == old {
		t.Errorf("after ctl upgrade, broker 1's admin socket is still served by pid %d", old)
	}
	if got := s.finishTLS(t, c); got != s.placed["erin"] {
		t.Errorf("erin's connection, opened before the upgrade, did its TLS handshake with %s, want %s", got, s.placed["erin"])
	}
	if ok, _ := rdptest.Poll(logTimeout, func() (bool, string) { return !alive(old), "" }); !ok {
		t.Logf("the old broker 1 (pid %d) still runs: it keeps sessions it could not hand over", old)
	}
	s.expectSame(t, s.b1, "alice")
}

// Step 6: broker 1 is stopped (SIGTERM); through broker 2 every user
// reaches the server broker 1 had placed them on.
func (s *scenario) stepFailover(t *testing.T) {
	start := time.Now()
	s.stopBroker(t, s.b1)
	t.Logf("broker 1 stopped in %v", time.Since(start).Round(10*time.Millisecond))
	for _, u := range s.users() {
		s.expectSame(t, s.b2, u)
	}
}
