package routing

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestServerStatus(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].Health.Check = CheckTCP
	tb := mustCompile(t, cfg)
	s := tb.Server("ts01")
	s.Acquire()
	s.SetAdminState(Drain)
	s.ReportConnectFailure(t0)
	s.st.record(errors.New("connection refused"), t0, 2, 3)
	st := s.Status(t0)
	want := ServerStatus{Name: "ts01", Pool: "general", Address: "10.0.0.1:3389", Weight: 1, Check: "tcp", Healthy: true,
		Admin: Drain, Sessions: 1, LastCheck: t0, LastError: "connection refused", CheckFailures: 1,
		ConnectFailures: 1, FailedUntil: t0.Add(10 * time.Second),
		ConfiguredWeight: 1, ConnectFailuresTotal: 1, CheckFailuresTotal: 1}
	if !st.FailedUntil.Equal(want.FailedUntil) {
		t.Errorf("FailedUntil = %v", st.FailedUntil)
	}
	st.FailedUntil = want.FailedUntil
	if st != want {
		t.Errorf("status =\n%+v\nwant\n%+v", st, want)
	}
	if Active.String() != "active" || Maintenance.String() != "maintenance" || AdminState(9).String() != "unknown" {
		t.Error("AdminState.String")
	}
}

func TestAcquireMaxSessions(t *testing.T) {
	tests := []struct {
		name        string
		maxSessions int
		want        int
	}{
		{"capped", 5, 5},
		{"unlimited", 0, 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Pools[0].Servers[0].MaxSessions = tc.maxSessions
			s := mustCompile(t, cfg).Server("ts01")
			var wg sync.WaitGroup
			var mu sync.Mutex
			got := 0
			for range 50 {
				wg.Go(func() {
					if s.Acquire() {
						mu.Lock()
						got++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if got != tc.want || s.Sessions() != tc.want {
				t.Fatalf("%d acquired, %d sessions; want %d", got, s.Sessions(), tc.want)
			}
			if tc.maxSessions > 0 && s.Available(t0) {
				t.Error("a full server is available")
			}
			s.Release()
			if !s.Available(t0) || !s.Acquire() {
				t.Error("a released slot is not available again")
			}
		})
	}
}
