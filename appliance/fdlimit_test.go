package appliance

import "testing"

func TestFDSessionCap(t *testing.T) {
	tests := []struct {
		name  string
		limit uint64
		want  int
	}{
		{"unknown", 0, 0},
		{"infinity", ^uint64(0), 0},
		{"tiny: a quarter kept", 96, 36},
		{"1024: a quarter kept", 1024, 384},
		{"these machines", 20000, 9872},
		{"systemd LimitNOFILE=65536", 65536, 32640},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fdSessionCap(tc.limit); got != tc.want {
				t.Errorf("fdSessionCap(%d) = %d, want %d", tc.limit, got, tc.want)
			}
		})
	}
}

func TestSessionLimit(t *testing.T) {
	b := &Broker{fdCap: 100}
	for _, tc := range []struct {
		name, what string
		max, want  int
	}{
		{"unlimited is capped", "descriptor limit", 0, 100},
		{"above the cap", "descriptor limit", 500, 100},
		{"below the cap", "max_sessions", 50, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, what := b.sessionLimit(&Config{MaxSessions: tc.max}); got != tc.want || what != tc.what {
				t.Errorf("max_sessions %d: %d (%s), want %d (%s)", tc.max, got, what, tc.want, tc.what)
			}
		})
	}
	if got, _ := (&Broker{}).sessionLimit(&Config{MaxSessions: 0}); got != 0 {
		t.Errorf("no cap, max_sessions 0: %d, want 0 (unlimited)", got)
	}
}
