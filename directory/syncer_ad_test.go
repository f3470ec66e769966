package directory

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/directory/adtest"
	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
	"github.com/rdpbroker/rdpbroker/routing"
)

// adRouter is a router whose rules send Engineering, Sales and Support to
// their own pools, fed by a Syncer on the fixture.
func adRouter(t *testing.T, cfg Config, state string) (*routing.Router, *Syncer) {
	t.Helper()
	r := routing.NewRouter(routing.RouterOptions{Logger: slog.New(slog.DiscardHandler)})
	rc := routing.DefaultConfig()
	rc.DefaultPool = "general"
	for i, p := range []string{"general", "engineering", "sales", "support"} {
		rc.Pools = append(rc.Pools, routing.PoolConfig{Name: p, Health: routing.HealthConfig{Check: "none"},
			Servers: []routing.ServerConfig{{Name: p + "-ts", Address: fmt.Sprintf("127.0.0.1:%d", i+1)}}})
	}
	rc.Rules = []routing.RuleConfig{
		{Name: "eng", Pool: "engineering", Groups: []string{"Engineering"}},
		{Name: "sales", Pool: "sales", Groups: []string{"Sales"}},
		{Name: "support", Pool: "support", Groups: []string{"Support"}},
	}
	if err := r.Apply(rc); err != nil {
		t.Fatal(err)
	}
	s := NewSyncer(cfg, Options{Logger: slog.New(slog.DiscardHandler), StateDir: state,
		Publish: func(x *Index) { r.SetDirectory(x) }})
	return r, s
}

func poolOf(r *routing.Router, login string) string {
	return r.Decide(routing.Request{Cookie: login, Login: rdp.NormalizeLogin(login)}).Pool
}

// TestADLiveGroupChange: a user added to a group in AD is routed to the
// group's pool after the next sync, with no restart and no reload.
func TestADLiveGroupChange(t *testing.T) {
	f := requireDC(t)
	r, s := adRouter(t, adConfig(t, f), t.TempDir())
	if err := s.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if got := poolOf(r, `CORP\heidi`); got != "general" {
		t.Fatalf("heidi before: %s, want general", got)
	}
	if err := f.AddMember(adtest.GroupDN("Sales"), adtest.UserDN("Heidi Klum")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.RemoveMember(adtest.GroupDN("Sales"), adtest.UserDN("Heidi Klum")) })
	if got := poolOf(r, `CORP\heidi`); got != "general" {
		t.Fatalf("heidi routed to %s before the sync", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	rdptest.EventuallyWhy(t, 30*time.Second, func() string {
		if got := poolOf(r, `CORP\heidi`); got != "sales" {
			return fmt.Sprintf("heidi still routed to %s after the sync (status %+v)", got, s.Status())
		}
		return ""
	})
	if got := poolOf(r, "heidi@corp.example.test"); got != "sales" {
		t.Errorf("heidi's UPN routed to %s", got)
	}
}

// TestADOutageKeepsMembership: with AD stopped mid-run, a sync fails,
// the previous membership stays in use and is marked stale; a broker
// started meanwhile routes by the persisted snapshot; once AD is back the
// next sync is fresh again.
func TestADOutageKeepsMembership(t *testing.T) {
	f := requireDC(t)
	state := t.TempDir()
	cfg := adConfig(t, f)
	// A stopped DC refuses the dial at once: the short dial timeout keeps
	// the outage fast. The request timeout stays generous, and the method
	// is walk: Samba answers IN_CHAIN searches slowly on a loaded machine
	// (CI runs another DC beside this one), which made the first sync time
	// out. TestADMembership covers chain.
	cfg.DialTimeout, cfg.RequestTimeout, cfg.Method = 2*time.Second, 30*time.Second, MethodWalk
	r, s := adRouter(t, cfg, state)
	if err := s.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if got := poolOf(r, "bob"); got != "engineering" {
		t.Fatalf("bob: %s, want engineering", got)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.StartAgain(context.Background()) })
	if err := s.Sync(context.Background(), false); err == nil {
		t.Fatal("sync with AD stopped succeeded")
	}
	st := s.Status()
	if !st.Stale || st.LastError == "" || st.Errors[KindConnect] != 1 || st.Source != "ldap" {
		t.Errorf("status after outage = %+v", st)
	}
	if got := poolOf(r, "bob"); got != "engineering" {
		t.Errorf("bob after the failed sync: %s, want engineering (last good membership)", got)
	}
	// A new broker (router + syncer) starting during the outage.
	r2, s2 := adRouter(t, cfg, state)
	s2.Start()
	if got := poolOf(r2, `CORP\carol`); got != "engineering" {
		t.Errorf("restarted during the outage: carol %s, want engineering (persisted snapshot)", got)
	}
	if err := f.StartAgain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s2.Sync(context.Background(), false); err != nil {
		t.Fatalf("sync after AD came back: %v", err)
	}
	if st := s2.Status(); st.Stale || st.Source != "ldap" {
		t.Errorf("status after recovery = %+v", st)
	}
}

// TestADBadPasswordKeepsMembership: a rotated-but-wrong password fails
// the sync (counted as a bind error) and keeps the membership.
func TestADBadPasswordKeepsMembership(t *testing.T) {
	f := requireDC(t)
	cfg := adConfig(t, f)
	r, s := adRouter(t, cfg, t.TempDir())
	if err := s.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.BindPasswordFile, []byte("Wr0ng!"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(context.Background(), false); err == nil {
		t.Fatal("sync with a wrong password succeeded")
	}
	if st := s.Status(); st.Errors[KindBind] != 1 || !st.Stale {
		t.Errorf("status = %+v, want one bind error, stale", st)
	}
	if got := poolOf(r, "dave"); got != "sales" {
		t.Errorf("dave: %s, want sales", got)
	}
	if _, err := os.Stat(filepath.Join(t.TempDir(), SnapshotFile)); err == nil {
		t.Error("unexpected snapshot")
	}
}

// TestADShrinkGuard: a group losing more than shrink_guard of its members
// keeps its old membership until an operator confirms.
func TestADShrinkGuard(t *testing.T) {
	f := requireDC(t)
	cfg := adConfig(t, f)
	cfg.Groups = map[string]string{"Big": "BigGroup"}
	cfg.IncludeDisabled, cfg.IndexAllUsers = true, false
	_, s := adRouter(t, cfg, t.TempDir())
	if err := s.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	// Removing 1,000 members from a Samba group is slow: make the previous
	// snapshot claim 4,000 members instead, so the real 1,601 are a loss
	// of 60% (> shrink_guard 50%).
	prev := s.Current().Snapshot()
	inflated := *prev
	inflated.Groups = map[string]GroupInfo{"Big": {DN: prev.Groups["Big"].DN, Members: 4000}}
	s.mu.Lock()
	s.cur = NewIndex(&inflated)
	s.mu.Unlock()
	if err := s.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	if len(st.ShrinkHeld) != 1 || st.ShrinkHeld[0] != "Big" || st.Errors[KindShrink] != 1 || st.Groups["Big"].Kept == "" {
		t.Fatalf("status = %+v, want Big held by the shrink guard", st)
	}
	if err := s.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); len(st.ShrinkHeld) != 0 || st.Groups["Big"].Members != adtest.BigN+1 {
		t.Errorf("after confirm: %+v", st)
	}
}
