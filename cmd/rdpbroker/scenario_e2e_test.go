package main

// The administrator's story, with real parts only (make e2e; docs/scenario.md):
// a Samba AD DC, four xrdp servers in two pools, two peered rdpbroker
// processes with their admin sockets and status pages, and xfreerdp
// (+auth-only, under Xvfb) as the client. Nine steps, each asserting where
// connections really went from the xrdp servers' own logs
// (scenario_where_test.go), not from what a broker says it did.
//
// The world: scenario_env_test.go; what the administrator looks at:
// scenario_admin_test.go; steps 4-6: scenario_ops_test.go; steps 7-9:
// scenario_failures_test.go. It runs when RDPBROKER_E2E_REAL=1, as root,
// with the packages of scripts/install-test-deps.sh; it skips otherwise.

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/directory/adtest"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

func TestScenarioAdministratorStory(t *testing.T) {
	tools := requireScenario(t)
	checkLeftovers(t)
	start := time.Now()
	s := newScenario(t, tools)
	t.Logf("world up in %v: DC %s, xrdp %s, brokers b1 %s, b2 %s", time.Since(start).Round(100*time.Millisecond),
		s.dc.IP, s.serverAddrs(), s.b1.addr(), s.b2.addr())
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"1 routed by AD group, same server on reconnect, explain agrees", s.stepRouting},
		{"2 added to Accounting in AD, ctl sync now, routed to accounting", s.stepSyncNow},
		{"3 broker 1 SIGKILLed and restarted, every user on the same server", s.stepCrash},
		{"4 drain on broker 1 honoured by broker 2", s.stepDrain},
		{"5 ctl upgrade with a session open through broker 1", s.stepUpgrade},
		{"6 broker 1 stopped, broker 2 routes every user as broker 1 did", s.stepFailover},
		{"7 accounting server stopped: refused within down_grace, moved after", s.stepServerDown},
		{"8 AD stopped: routing from the last good membership", s.stepADDown},
		{"9 garbage, TLS, unknown msts host: refused, counted, nobody affected", s.stepBadClients},
	}
	for _, st := range steps {
		t0 := time.Now()
		ok := t.Run(st.name, st.run)
		t.Logf("step %s: %v (ok=%v)", st.name[:1], time.Since(t0).Round(100*time.Millisecond), ok)
	}
	s.stepStopCleanly(t)
	t.Logf("%d xfreerdp runs, %v in all", s.client.runs, time.Since(start).Round(100*time.Millisecond))
}

func (s *scenario) serverAddrs() string {
	var out []string
	for _, n := range []string{"acc1", "acc2", "gen1", "gen2"} {
		out = append(out, n+"="+s.servers[n].addr())
	}
	return strings.Join(out, " ")
}

// users lists the users placed so far, sorted.
func (s *scenario) users() []string {
	var u []string
	for k := range s.placed {
		u = append(u, k)
	}
	sort.Strings(u)
	return u
}

// ruleOf is the rule that must route a user of scenarioUsers.
func ruleOf(user string) string {
	switch {
	case scenarioUsers[user] == "accounting":
		return "accounting"
	case user == "erin" || user == "frank": // Sales; frank through Marketing
		return "sales"
	}
	return "default"
}

// Step 1: each user reaches a server of their pool; reconnecting, the
// same server; `ctl route explain` on both brokers says so too.
func (s *scenario) stepRouting(t *testing.T) {
	var users []string
	for u := range scenarioUsers {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		s.expectPool(t, s.b1, u, scenarioUsers[u])
	}
	for _, u := range append(users, "alice", "carol") {
		s.expectSame(t, s.b1, u)
	}
	e := s.ctlEnv(t)
	for _, u := range users {
		for _, n := range []*node{s.b1, s.b2} {
			rdptest.EventuallyWhy(t, logTimeout, func() string {
				x := s.explain(e, n, u)
				if x.Server != s.placed[u] || x.Pool != scenarioUsers[u] || x.Rule != ruleOf(u) {
					return fmt.Sprintf("ctl route explain %s on %s: rule %q pool %q server %q, want rule %q pool %q server %q (where xrdp saw it)",
						u, n.name, x.Rule, x.Pool, x.Server, ruleOf(u), scenarioUsers[u], s.placed[u])
				}
				return ""
			})
		}
	}
	// Nested groups, as the directory resolved them.
	for u, want := range map[string]string{"bob": "Accounting", "frank": "Sales"} {
		x := s.explain(e, s.b1, u)
		if len(x.Identities) != 1 || !slices.ContainsFunc(x.Identities[0].Groups, func(g string) bool { return strings.EqualFold(g, want) }) {
			t.Errorf("ctl route explain %s: identities %+v, want groups with %s", u, x.Identities, want)
		}
	}
}

// Step 2: heidi joins Accounting in AD; nothing changes until `ctl sync
// now` (the scheduled sync is an hour away), then she routes to the
// accounting pool, with no restart.
func (s *scenario) stepSyncNow(t *testing.T) {
	e := s.ctlEnv(t)
	pids := []int{s.status(e, s.b1).PID, s.status(e, s.b2).PID}
	if err := s.dc.AddMember(adtest.GroupDN("Accounting"), adtest.UserDN("Heidi Klum")); err != nil {
		t.Fatalf("add heidi to Accounting in AD: %v", err)
	}
	if x := s.explain(e, s.b1, "heidi"); x.Pool != "general" {
		t.Errorf("before ctl sync now, heidi already routes to %q (rule %q)", x.Pool, x.Rule)
	}
	for _, n := range []*node{s.b1, s.b2} {
		if out := e.ok(n.sock, "sync", "now"); !regexp.MustCompile(`directory sync:\s+ok\n`).MatchString(out) {
			t.Errorf("ctl sync now on %s:\n%s", n.name, out)
		}
	}
	s.lastSync = time.Now()
	if got := s.expectPool(t, s.b1, "heidi", "accounting"); got != "" {
		t.Logf("heidi now on %s", got)
	}
	rdptest.EventuallyWhy(t, logTimeout, func() string {
		if x := s.explain(e, s.b2, "heidi"); x.Pool != "accounting" || x.Server != s.placed["heidi"] {
			return fmt.Sprintf("broker 2 explains heidi: pool %q server %q, want accounting %s", x.Pool, x.Server, s.placed["heidi"])
		}
		return ""
	})
	if now := []int{s.status(e, s.b1).PID, s.status(e, s.b2).PID}; !slices.Equal(now, pids) {
		t.Errorf("broker pids %v, then %v: a broker restarted", pids, now)
	}
}

// Step 3: broker 1 dies without a goodbye (SIGKILL) once its table is on
// disk, and restarts: every user lands where they were.
func (s *scenario) stepCrash(t *testing.T) {
	e := s.ctlEnv(t)
	rdptest.EventuallyWhy(t, logTimeout, func() string {
		a := s.status(e, s.b1).Affinity
		if a == nil || a.Entries < len(s.placed) || a.PendingWrites != 0 {
			return fmt.Sprintf("broker 1 affinity %+v, want >= %d entries, none pending", a, len(s.placed))
		}
		return ""
	})
	p := s.b1.proc
	syscall.Kill(-p.proc.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.proc.done:
	case <-time.After(stopTimeout):
		t.Fatalf("broker 1 still runs after SIGKILL")
	}
	s.start(t, s.b1)
	s.waitPeers(t)
	for _, u := range s.users() {
		s.expectSame(t, s.b1, u)
	}
}
