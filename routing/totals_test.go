package routing

import (
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

func TestServerTotals(t *testing.T) {
	tests := []struct {
		name     string
		maxFails int
		sessions [][2]int64 // in, out per ended session
		fails    int
		want     ServerStatus // totals only
	}{
		{"nothing", 1, nil, 0, ServerStatus{}},
		{"sessions", 1, [][2]int64{{100, 2000}, {5, 7}}, 0, ServerStatus{SessionsTotal: 2, BytesIn: 105, BytesOut: 2007}},
		{"negative bytes ignored", 1, [][2]int64{{-1, 10}}, 0, ServerStatus{SessionsTotal: 1, BytesOut: 10}},
		{"connect failures", 3, nil, 5, ServerStatus{ConnectFailuresTotal: 5}},
		{"connect failures with max_fails 0", 0, nil, 4, ServerStatus{ConnectFailuresTotal: 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Passive.MaxFails = tc.maxFails
			s := mustCompile(t, cfg).Server("ts01")
			for _, io := range tc.sessions {
				s.CountSession(io[0], io[1])
			}
			for range tc.fails {
				s.ReportConnectFailure(t0)
			}
			st := s.Status(t0)
			got := ServerStatus{SessionsTotal: st.SessionsTotal, BytesIn: st.BytesIn, BytesOut: st.BytesOut,
				ConnectFailuresTotal: st.ConnectFailuresTotal, CheckFailuresTotal: st.CheckFailuresTotal}
			if got != tc.want {
				t.Errorf("totals %+v, want %+v", got, tc.want)
			}
			if tc.maxFails == 0 && !st.FailedUntil.IsZero() {
				t.Error("max_fails 0 took the server out")
			}
		})
	}
}

// Totals survive a reload that keeps the server.
func TestServerTotalsSurviveApply(t *testing.T) {
	r := NewRouter(RouterOptions{})
	if err := r.Apply(testConfig()); err != nil {
		t.Fatal(err)
	}
	r.Table().Server("ts01").CountSession(1, 2)
	cfg := testConfig()
	cfg.Pools[0].Servers[0].Weight = 9 // a new *Server, the same live state
	if err := r.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if st := r.Table().Server("ts01").Status(t0); st.SessionsTotal != 1 || st.BytesOut != 2 || st.Weight != 9 {
		t.Errorf("after reload: %+v", st)
	}
}

// Active checks: each failure counted in CheckFailuresTotal (which, unlike
// CheckFailures, does not restart at 0 after a success), and each check
// timed.
func TestCheckTotalsAndDuration(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].Health = fastHealth(CheckTCP)
	cfg.Pools[0].Health.Timeout = 20 * time.Millisecond
	probe := newFakeProbe()
	probe.block = true // every check runs into its timeout
	r, _ := startRouter(t, cfg, probe)
	ts01 := r.Table().Server("ts01")
	rdptest.Eventually(t, 5*time.Second, "3 failed checks", func() bool { return ts01.Status(time.Now()).CheckFailuresTotal >= 3 })
	st := ts01.Status(time.Now())
	if st.LastCheckDuration < 20*time.Millisecond || st.LastCheckDuration > 5*time.Second {
		t.Errorf("last check took %v, the timeout is 20ms", st.LastCheckDuration)
	}
	probe.mu.Lock()
	probe.block = false
	probe.mu.Unlock()
	rdptest.Eventually(t, 5*time.Second, "up again", ts01.Healthy)
	st = ts01.Status(time.Now())
	if st.CheckFailures != 0 || st.CheckFailuresTotal < 3 || st.LastError != "" {
		t.Errorf("after recovery: %+v", st)
	}
	if st.LastCheckDuration >= 20*time.Millisecond {
		t.Errorf("an immediate check took %v", st.LastCheckDuration)
	}
}
