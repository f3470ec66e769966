package routing

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// overrideRouter is a router on testConfig (ts01 with a tcp check) with an
// affinity table, its clock at t0.
func overrideRouter(t *testing.T) (*Router, *mapAffinity) {
	t.Helper()
	aff := &mapAffinity{m: map[string]string{}}
	r := NewRouter(RouterOptions{Logger: slog.New(slog.DiscardHandler), Affinity: aff, Now: func() time.Time { return t0 }})
	cfg := testConfig()
	cfg.Pools[0].Health.Check = CheckTCP // never run: no Run
	if err := r.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	return r, aff
}

func TestSetOverrideRefuses(t *testing.T) {
	tests := []struct {
		name, server string
		o            Override
		want         string
		unknown      bool
	}{
		{"unknown server", "ts99", Override{State: Drain}, "ts99", true},
		{"bad state", "ts01", Override{State: 7}, "admin state 7", false},
		{"negative weight", "ts01", Override{Weight: -1}, "weight -1", false},
		{"weight too big", "ts01", Override{Weight: MaxWeight + 1}, "weight 257", false},
		{"until-restart with maint", "ts01", Override{State: Maintenance, UntilRestart: true}, "until-restart is for drain", false},
		{"until-restart without health check", "ts03", Override{State: Drain, UntilRestart: true}, "needs an active health check", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := overrideRouter(t)
			_, err := r.SetOverride(tc.server, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrUnknownServer) != tc.unknown {
				t.Fatalf("err = %v, want %q (unknown %v)", err, tc.want, tc.unknown)
			}
			if len(r.Overrides()) != 0 || r.Table().Server("ts01").AdminState() != Active {
				t.Errorf("refused override left state: %v", r.Overrides())
			}
		})
	}
	r, _ := overrideRouter(t)
	if _, err := r.ClearOverride("ts99"); !errors.Is(err, ErrUnknownServer) {
		t.Errorf("ClearOverride(ts99) = %v", err)
	}
}

// Drain: no new user, affined users still return; maintenance: nobody,
// the affinity entry dropped when its user comes; clear: active again.
func TestOverrideStates(t *testing.T) {
	tests := []struct {
		name       string
		state      AdminState
		newOn1     bool   // may a new user land on ts01
		bobGoes    string // bob is affined to ts01
		bobOutcome string
		bobEntry   bool // bob's entry still there
	}{
		{"active", Active, true, "ts01", AffinityHit, true},
		{"drain", Drain, false, "ts01", AffinityHitDrain, true},
		{"maintenance", Maintenance, false, "ts02", AffinityMaintenance, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, aff := overrideRouter(t)
			aff.m["bob"] = "ts01"
			if _, err := r.SetOverride("ts01", Override{State: tc.state, By: "uid 1000"}); err != nil {
				t.Fatal(err)
			}
			for i := range 4 { // leastconn rotates ties: each server comes first in turn
				d := r.Decide(loginReq("user" + string(rune('a'+i))))
				if on1 := d.Candidates[0].Name == "ts01" || (len(d.Candidates) > 1 && d.Candidates[1].Name == "ts01"); on1 && !tc.newOn1 {
					t.Errorf("new user offered ts01: %v", names(d.Candidates))
				}
			}
			d := r.Decide(loginReq("bob"))
			if len(d.Candidates) == 0 || d.Candidates[0].Name != tc.bobGoes || d.Affinity != tc.bobOutcome {
				t.Errorf("bob: %v %q (%s)", names(d.Candidates), d.Affinity, d.Why)
			}
			if _, ok := aff.Lookup("bob"); ok != tc.bobEntry {
				t.Errorf("bob's entry present = %v", ok)
			}
			before, err := r.ClearOverride("ts01")
			if err != nil || before.State != tc.state || before.By != "uid 1000" || !before.At.Equal(t0) {
				t.Errorf("ClearOverride = %+v, %v", before, err)
			}
			if s := r.Table().Server("ts01"); s.AdminState() != Active || s.Status(t0).Override != nil {
				t.Errorf("after clear: %+v", s.Status(t0))
			}
		})
	}
}

// A weight override changes balancing, for both policies.
func TestOverrideWeight(t *testing.T) {
	for _, balance := range []string{BalanceLeastConn, BalanceRoundRobin} {
		t.Run(balance, func(t *testing.T) {
			r := NewRouter(RouterOptions{Logger: slog.New(slog.DiscardHandler)})
			if err := r.Apply(weightedConfig(balance, 1, 1)); err != nil {
				t.Fatal(err)
			}
			if _, err := r.SetOverride("a", Override{Weight: 3}); err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for range 40 {
				d := r.Decide(loginReq("u"))
				if !d.Candidates[0].Acquire() {
					t.Fatal("acquire")
				}
				count[d.Candidates[0].Name]++
			}
			if count["a"] != 30 || count["b"] != 10 {
				t.Errorf("a weight 3, b weight 1: %v", count)
			}
			st := r.Table().Server("a").Status(t0)
			if st.Weight != 3 || st.ConfiguredWeight != 1 || st.Override == nil || st.Override.Weight != 3 {
				t.Errorf("status %+v", st)
			}
		})
	}
}

// Overrides are kept by server name across reloads: an unchanged server,
// one whose address changed (new live state), one removed and added back.
func TestOverrideSurvivesApply(t *testing.T) {
	r, _ := overrideRouter(t)
	at := t0.Add(-time.Hour)
	want := map[string]Override{
		"ts01": {State: Drain, By: "uid 0", At: at},
		"ts02": {State: Maintenance, Weight: 7, By: "token", At: at},
		"ts03": {Weight: 4, By: "peer b2", At: at},
	}
	for name, o := range want {
		if before, err := r.SetOverride(name, o); err != nil || before != (Override{}) {
			t.Fatalf("SetOverride(%s) = %+v, %v", name, before, err)
		}
	}
	cfg := testConfig()
	cfg.Pools[0].Servers[1].Address = "10.0.0.22:3389"                              // ts02: new live state
	cfg.Pools[1].Servers = []ServerConfig{{Name: "ts05", Address: "10.0.0.5:3389"}} // ts03 removed
	if err := r.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	check := func(step string) {
		t.Helper()
		got := r.Overrides()
		if len(got) != len(want) {
			t.Errorf("%s: overrides %v", step, got)
		}
		for name, o := range want {
			if got[name] != o {
				t.Errorf("%s: override %s = %+v, want %+v", step, name, got[name], o)
			}
			s := r.Table().Server(name)
			if s == nil {
				continue
			}
			st := s.Status(t0)
			if st.Admin != o.State || st.Override == nil || *st.Override != o || (o.Weight != 0 && st.Weight != o.Weight) {
				t.Errorf("%s: %s status %+v", step, name, st)
			}
		}
	}
	check("after reload")
	if err := r.Apply(testConfig()); err != nil { // ts03 back
		t.Fatal(err)
	}
	check("ts03 back")
	if s := r.Table().Server("ts03"); s.EffectiveWeight() != 4 || s.Weight != 1 {
		t.Errorf("ts03 weights %d / %d", s.EffectiveWeight(), s.Weight)
	}
	before, err := r.SetOverride("ts01", Override{State: Active, By: "uid 0"})
	if err != nil || before != want["ts01"] {
		t.Errorf("replacing ts01: before %+v, %v", before, err)
	}
	if o := r.Overrides()["ts01"]; !o.At.Equal(t0) {
		t.Errorf("At not filled in with the clock: %+v", o)
	}
}

// recordedEnd is one OverrideEndedFunc call.
type recordedEnd struct {
	server        string
	before, after Override
	kept          bool
}

// UntilRestart: the drain ends once active health has seen the server
// down then up; not before.
func TestOverrideUntilRestart(t *testing.T) {
	for _, weight := range []int{0, 5} {
		t.Run("weight "+string(rune('0'+weight)), func(t *testing.T) {
			cfg := testConfig()
			cfg.Pools[0].Health = fastHealth(CheckRDP)
			probe := newFakeProbe()
			r, _ := startRouter(t, cfg, probe)
			var mu sync.Mutex
			var ends []recordedEnd
			r.OnOverrideEnded(func(server string, before, after Override, kept bool) {
				mu.Lock()
				ends = append(ends, recordedEnd{server, before, after, kept})
				mu.Unlock()
			})
			ts01 := r.Table().Server("ts01")
			rdptest.Eventually(t, 5*time.Second, "first checks", func() bool { return !ts01.Status(time.Now()).LastCheck.IsZero() })
			set := Override{State: Drain, Weight: weight, UntilRestart: true, By: "uid 0"}
			if _, err := r.SetOverride("ts01", set); err != nil {
				t.Fatal(err)
			}
			if st := ts01.Status(time.Now()); !st.UntilRestart || st.Admin != Drain {
				t.Fatalf("status %+v", st)
			}
			n := probe.count(ts01.Address)
			rdptest.Eventually(t, 5*time.Second, "10 more healthy checks", func() bool { return probe.count(ts01.Address) >= n+10 })
			if ts01.AdminState() != Drain {
				t.Fatal("drain ended without a restart")
			}
			probe.set(ts01.Address, errors.New("rebooting"))
			rdptest.Eventually(t, 5*time.Second, "ts01 down", func() bool { return !ts01.Healthy() })
			if ts01.AdminState() != Drain {
				t.Fatal("drain ended while down")
			}
			probe.set(ts01.Address, nil)
			rdptest.Eventually(t, 5*time.Second, "drain ended", func() bool { return ts01.AdminState() == Active })
			// The hook is called after the change is in force: it may come a moment later.
			rdptest.Eventually(t, 5*time.Second, "the hook called", func() bool { mu.Lock(); defer mu.Unlock(); return len(ends) > 0 })
			if !ts01.Healthy() {
				t.Error("active before healthy")
			}
			st := ts01.Status(time.Now())
			o, has := r.Overrides()["ts01"]
			mu.Lock()
			defer mu.Unlock()
			if len(ends) != 1 || ends[0].server != "ts01" {
				t.Fatalf("hook calls %+v", ends)
			}
			e := ends[0]
			if e.before.State != Drain || !e.before.UntilRestart || e.after.State != Active || e.after.UntilRestart ||
				e.after.By != ByUntilRestart || e.kept != (weight != 0) {
				t.Errorf("hook call %+v", e)
			}
			if weight == 0 {
				if has || st.Override != nil || st.UntilRestart {
					t.Errorf("override left: %+v / %+v", o, st)
				}
				return
			}
			if !has || o.Weight != weight || o.State != Active || st.Weight != weight || st.UntilRestart || *st.Override != o {
				t.Errorf("weight override not kept: %+v / %+v", o, st)
			}
		})
	}
}

func TestAdminStateText(t *testing.T) {
	for in, want := range map[string]AdminState{"active": Active, "Enabled": Active, "drain": Drain,
		"draining": Drain, "maintenance": Maintenance, " MAINT ": Maintenance} {
		if got, err := ParseAdminState(in); err != nil || got != want {
			t.Errorf("ParseAdminState(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseAdminState("off"); err == nil {
		t.Error("off accepted")
	}
	b, err := json.Marshal(Override{State: Drain, UntilRestart: true, By: "uid 0", At: t0})
	if err != nil || string(b) != `{"state":"drain","until_restart":true,"by":"uid 0","at":"2025-01-15T10:00:00Z"}` {
		t.Errorf("json %s, %v", b, err)
	}
	var o Override
	if err := json.Unmarshal(b, &o); err != nil || o.State != Drain || !o.At.Equal(t0) {
		t.Errorf("round trip %+v, %v", o, err)
	}
	if _, err := json.Marshal(AdminState(9)); err == nil {
		t.Error("marshalled an unknown state")
	}
}

// A server already down when the until-restart drain is set only needs to
// come up.
func TestOverrideUntilRestartAlreadyDown(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].Health = fastHealth(CheckTCP)
	probe := newFakeProbe()
	r, _ := startRouter(t, cfg, probe)
	ts02 := r.Table().Server("ts02")
	probe.set(ts02.Address, errors.New("powered off"))
	rdptest.Eventually(t, 5*time.Second, "ts02 down", func() bool { return !ts02.Healthy() })
	if _, err := r.SetOverride("ts02", Override{State: Drain, UntilRestart: true}); err != nil {
		t.Fatal(err)
	}
	if ts02.AdminState() != Drain {
		t.Fatal("not drained")
	}
	probe.set(ts02.Address, nil)
	rdptest.Eventually(t, 5*time.Second, "drain ended", func() bool { return ts02.AdminState() == Active })
	if len(r.Overrides()) != 0 {
		t.Errorf("overrides left: %v", r.Overrides())
	}
}

// Overrides set and cleared while decisions, explanations and reloads run
// (for the race detector); the last override set is the one in force.
func TestOverrideConcurrent(t *testing.T) {
	r, _ := overrideRouter(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, f := range []func(){
		func() { r.Decide(loginReq("bob")) },
		func() { r.Explain(loginReq("bob")) },
		func() { _ = r.Apply(testConfig()) },
		func() { _ = r.Table().Server("ts01").Status(t0) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					f()
				}
			}
		}()
	}
	for i := range 200 {
		if _, err := r.SetOverride("ts01", Override{State: Drain, Weight: i%5 + 1}); err != nil {
			t.Error(err)
		}
		if _, err := r.ClearOverride("ts02"); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if s := r.Table().Server("ts01"); s.AdminState() != Drain || s.EffectiveWeight() != 5 {
		t.Errorf("ts01: %+v", s.Status(t0))
	}
}
