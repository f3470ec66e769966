package routing

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

func TestApplyKeepsLiveState(t *testing.T) {
	r := NewRouter(RouterOptions{})
	if d := r.Decide(loginReq("alice")); !errors.Is(d.Err, ErrNoServer) {
		t.Errorf("decision without table: %+v", d)
	}
	cfg := testConfig()
	if err := r.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	old := r.Table()
	ts01, ts02, ts03 := old.Server("ts01"), old.Server("ts02"), old.Server("ts03")
	ts01.Acquire()
	ts01.Acquire()
	ts02.Acquire()
	ts02.SetAdminState(Drain)
	ts03.Acquire()

	cfg = testConfig()
	cfg.Pools[0].Servers[0].Weight = 5                 // ts01: same identity, new weight
	cfg.Pools[1].Servers[0].Address = "10.0.0.33:3389" // ts03: new address
	cfg.Pools[2].Servers = append(cfg.Pools[2].Servers, ServerConfig{Name: "ts09", Address: "10.0.0.9:3389"})
	if err := r.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	nt := r.Table()
	if nt == old {
		t.Fatal("table not swapped")
	}
	tests := []struct {
		name     string
		srv      *Server
		same     bool // same *Server
		sessions int
		admin    AdminState
	}{
		{"weight changed", nt.Server("ts01"), false, 2, Active},
		{"unchanged", nt.Server("ts02"), true, 1, Drain},
		{"address changed", nt.Server("ts03"), false, 0, Active},
		{"new", nt.Server("ts09"), false, 0, Active},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.srv == old.Server(tc.srv.Name)) != tc.same || tc.srv.Sessions() != tc.sessions || tc.srv.AdminState() != tc.admin {
				t.Errorf("%s: same=%v sessions=%d admin=%v", tc.srv.Name, tc.srv == old.Server(tc.srv.Name), tc.srv.Sessions(), tc.srv.AdminState())
			}
		})
	}
	if nt.Server("ts01").Weight != 5 || ts01.Weight != 1 {
		t.Error("weights: the new table has the new one, the old table keeps its own")
	}
	// Sessions started before the reload end on the old *Server.
	ts01.Release()
	if n := nt.Server("ts01").Sessions(); n != 1 {
		t.Errorf("ts01 sessions after release on the old object = %d", n)
	}
	ts03.Release()
	if ts03.Sessions() != 0 || nt.Server("ts03").Sessions() != 0 {
		t.Error("ts03 release")
	}
}

func TestApplyBadConfigKeepsTable(t *testing.T) {
	r := NewRouter(RouterOptions{})
	if err := r.Apply(testConfig()); err != nil {
		t.Fatal(err)
	}
	old := r.Table()
	bad := testConfig()
	bad.DefaultPool = "nowhere"
	if err := r.Apply(bad); err == nil || err.Error() != `default_pool: unknown pool "nowhere"` {
		t.Fatalf("Apply(bad) = %v", err)
	}
	if r.Table() != old {
		t.Error("table replaced by a bad config")
	}
}

func TestSetDirectory(t *testing.T) {
	r := NewRouter(RouterOptions{})
	r.SetDirectory(fakeDirectory{}) // before any table: used by the first Apply
	cfg := rulesConfig()            // static_groups: accounting = carol, dave
	if err := r.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	ldap := fakeDirectory{"zoe": {{Key: "zoe", Groups: []string{"Accounting"}}}}
	tests := []struct {
		name       string
		change     func()
		carol, zoe string // pools
	}{
		{"directory given before Apply", func() {}, "general", "general"},
		{"SetDirectory", func() { r.SetDirectory(ldap) }, "general", "acct"},
		{"Apply keeps it", func() {
			if err := r.Apply(cfg); err != nil {
				t.Fatal(err)
			}
		}, "general", "acct"},
		{"nil: static groups again", func() { r.SetDirectory(nil) }, "acct", "general"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := r.Table()
			ts04 := before.Server("ts04")
			ts04.Acquire()
			defer ts04.Release()
			tc.change()
			if got := r.Decide(loginReq("carol")).Pool; got != tc.carol {
				t.Errorf("carol -> %s, want %s", got, tc.carol)
			}
			if got := r.Decide(loginReq("zoe")).Pool; got != tc.zoe {
				t.Errorf("zoe -> %s, want %s", got, tc.zoe)
			}
			if s := r.Table().Server("ts04"); s != ts04 || s.Sessions() != 1 {
				t.Errorf("ts04 not kept: same=%v sessions=%d", s == ts04, s.Sessions())
			}
		})
	}
}

func TestApplyStopsAndStartsCheckers(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].Health = fastHealth(CheckTCP)
	probe := newFakeProbe()
	r, _ := startRouter(t, cfg, probe)
	rdptest.Eventually(t, 5*time.Second, "ts02 probed", func() bool { return probe.count("10.0.0.2:3389") > 0 })
	if n := r.numCheckers(); n != 2 {
		t.Fatalf("%d checkers, want 2", n)
	}

	ts02done := r.checkerDone(r.Table().Server("ts02"))
	cfg = testConfig()
	cfg.Pools[0].Health = fastHealth(CheckTCP)
	cfg.Pools[0].Servers = cfg.Pools[0].Servers[:1] // ts02 removed
	cfg.Pools[1].Health = fastHealth(CheckTCP)      // ts03 now checked
	if err := r.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if n := r.numCheckers(); n != 2 {
		t.Fatalf("%d checkers after reload, want 2", n)
	}
	<-ts02done // Apply cancelled it; it returns promptly
	stopped := probe.count("10.0.0.2:3389")
	base := probe.count("10.0.0.3:3389")
	rdptest.Eventually(t, 5*time.Second, "ts03 probed 5 more times", func() bool { return probe.count("10.0.0.3:3389") >= base+5 })
	if n := probe.count("10.0.0.2:3389"); n != stopped {
		t.Errorf("removed ts02 probed again: %d -> %d", stopped, n)
	}

	// A changed health config restarts the checker.
	ts01done := r.checkerDone(r.Table().Server("ts01"))
	cfg.Pools[0].Health.Timeout = 2 * time.Second
	if err := r.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	<-ts01done
	if r.checkerDone(r.Table().Server("ts01")) == ts01done {
		t.Error("ts01's checker not replaced")
	}
	base = probe.count("10.0.0.1:3389")
	rdptest.Eventually(t, 5*time.Second, "ts01 probed again", func() bool { return probe.count("10.0.0.1:3389") > base })
}

func TestRunAndClose(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].Health = fastHealth(CheckTCP)
	probe := newFakeProbe()
	r := NewRouter(RouterOptions{Probe: probe.Probe})
	done := make(chan struct{})
	go func() { defer close(done); r.Run(context.Background()) }()
	// Apply during Run starts the checks.
	rdptest.Eventually(t, 5*time.Second, "Run started", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.runCtx != nil })
	if err := r.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	rdptest.Eventually(t, 5*time.Second, "ts01 probed", func() bool { return probe.count("10.0.0.1:3389") > 0 })
	r.Close()
	<-done
	if n := r.numCheckers(); n != 0 {
		t.Errorf("%d checkers after Close", n)
	}
	r.Close()          // idempotent
	r.Run(t.Context()) // returns at once when closed
	if err := r.Apply(cfg); err != nil || r.numCheckers() != 0 {
		t.Errorf("Apply after Close: %v, %d checkers", err, r.numCheckers())
	}
	if d := r.Decide(loginReq("frank")); d.Err != nil {
		t.Errorf("Decide after Close: %v", d.Err)
	}
}

// TestConcurrent exercises Decide, Acquire/Release, admin and passive
// reports, health checks, reloads and directory swaps at once (run with
// -race).
func TestConcurrent(t *testing.T) {
	cfgA := rulesConfig()
	cfgA.Pools[0].Health = fastHealth(CheckTCP)
	cfgA.Pools[0].Balance = "roundrobin"
	cfgB := rulesConfig()
	cfgB.Pools[0].Servers[0].Weight = 3
	cfgB.Pools[0].Servers = append(cfgB.Pools[0].Servers, ServerConfig{Name: "ts05", Address: "10.0.0.5:3389"})
	probe := newFakeProbe()
	probe.set("10.0.0.2:3389", errors.New("flapping"))
	r, _ := startRouter(t, cfgA, probe)

	logins := []string{"alice", "carol", `CORP\alic`, "frank", "erin", ""}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				req := loginReq(logins[(g+i)%len(logins)])
				req.Now = time.Now()
				req.Client = netip.AddrFrom4([4]byte{172, byte(16 + i%3), 0, 1})
				d := r.Decide(req)
				for _, s := range d.Candidates {
					if s.Acquire() {
						if i%7 == 0 {
							s.ReportConnectFailure(time.Now().Add(-time.Hour))
						} else {
							s.ReportConnectSuccess()
						}
						_ = s.Status(time.Now())
						s.Release()
						break
					}
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 40 {
			cfg := cfgA
			if i%2 == 1 {
				cfg = cfgB
			}
			if err := r.Apply(cfg); err != nil {
				t.Error(err)
				return
			}
			if s := r.Table().Server("ts01"); s != nil {
				s.SetAdminState(AdminState(i % 3))
			}
		}
	})
	wg.Go(func() {
		dir := fakeDirectory{"frank": {{Key: "frank", Groups: []string{"accounting"}}}}
		for i := range 40 {
			if i%2 == 0 {
				r.SetDirectory(dir)
			} else {
				r.SetDirectory(nil)
			}
		}
	})
	wg.Wait()
	for _, s := range r.Table().Servers() {
		if n := s.Sessions(); n != 0 {
			t.Errorf("%s: %d sessions left", s.Name, n)
		}
	}
}

// BenchmarkDecide: 10 servers in 3 pools, 6 rules with logins (file-sized
// lists), groups and networks; a login that matches the 4th rule.
func BenchmarkDecide(b *testing.B) {
	cfg := DefaultConfig()
	cfg.DefaultPool = "general"
	cfg.Pools = []PoolConfig{{Name: "general"}, {Name: "sales", Balance: "roundrobin"}, {Name: "acct"}}
	for i := range 10 {
		p := &cfg.Pools[i%3]
		p.Health.Check = CheckNone
		p.Servers = append(p.Servers, ServerConfig{Name: fmt.Sprintf("ts%02d", i), Address: fmt.Sprintf("10.0.0.%d:3389", i+1), Weight: i%3 + 1})
	}
	var many []string
	for i := range 500 {
		many = append(many, fmt.Sprintf("user%03d", i))
	}
	cfg.Rules = []RuleConfig{
		{Name: "vip", Pool: "sales", Logins: many},
		{Name: "office", Pool: "sales", Networks: []string{"172.16.0.0/12", "2001:db8::/32"}, Groups: []string{"staff"}},
		{Name: "acct", Pool: "acct", Groups: []string{"accounting", "finance"}},
		{Name: "people", Pool: "general", Logins: []string{"alice", "bob", "carol"}, Networks: []string{"192.168.0.0/16"}},
		{Name: "coll", Pool: "sales", Collection: "Sales"},
		{Name: "rest", Pool: "acct", Networks: []string{"10.0.0.0/8"}},
	}
	cfg.StaticGroups = map[string][]string{"accounting": {"dave", "erin", "alicia"}, "staff": {"frank", "alice"}}
	tb := mustCompile(b, cfg)
	reqs := map[string]Request{
		"login":     loginReq("carol"),
		"group":     loginReq(`CORP\erin`),
		"truncated": loginReq(`CORP\alic`), // alice, alicia: ambiguous
		"trunc500":  loginReq(`CORP\user`), // 500 candidates, all in one rule
		"nocookie":  {Client: netip.MustParseAddr("10.1.2.3"), Now: t0},
	}
	for _, name := range []string{"login", "group", "truncated", "trunc500", "nocookie"} {
		req := reqs[name]
		if d := tb.Decide(req); d.Err != nil {
			b.Fatalf("%s: %v", name, d.Err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := tb.Decide(req)
				if len(d.Candidates) == 0 {
					b.Fatal(d.Why)
				}
			}
		})
	}
}
