package routing

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// mapAffinity is an in-memory Affinity.
type mapAffinity struct {
	mu sync.Mutex
	m  map[string]string
}

var _ Affinity = (*mapAffinity)(nil)

func (a *mapAffinity) Lookup(k string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.m[k]
	return s, ok
}
func (a *mapAffinity) Place(k, s string) { a.mu.Lock(); a.m[k] = s; a.mu.Unlock() }
func (a *mapAffinity) Delete(k string)   { a.mu.Lock(); delete(a.m, k); a.mu.Unlock() }

func TestDecideAffinity(t *testing.T) {
	tests := []struct {
		name      string
		entry     string // alice's affinity entry ("" = none)
		prepare   func(tb *Table)
		wantCands []string
		wantOut   string
		wantErr   error
		wantEntry string // entry afterwards ("" = deleted or none)
	}{
		{name: "no entry: balanced", wantCands: []string{"ts01", "ts02"}},
		{name: "hit beats balancing", entry: "ts02", prepare: func(tb *Table) { tb.Server("ts01").SetAdminState(Active) },
			wantCands: []string{"ts02"}, wantOut: AffinityHit, wantEntry: "ts02"},
		{name: "drain still honoured", entry: "ts02", prepare: func(tb *Table) { tb.Server("ts02").SetAdminState(Drain) },
			wantCands: []string{"ts02"}, wantOut: AffinityHitDrain, wantEntry: "ts02"},
		{name: "maintenance drops the entry", entry: "ts02", prepare: func(tb *Table) { tb.Server("ts02").SetAdminState(Maintenance) },
			wantCands: []string{"ts01"}, wantOut: AffinityMaintenance},
		{name: "removed server drops the entry", entry: "ts09",
			wantCands: []string{"ts01", "ts02"}, wantOut: AffinityRemoved},
		{name: "server of another pool", entry: "ts03",
			wantCands: []string{"ts01", "ts02"}, wantOut: AffinityOtherPool},
		{name: "down within down_grace: refused", entry: "ts02",
			prepare: func(tb *Table) { tb.Server("ts02").ReportConnectFailure(t0.Add(-time.Minute)) },
			wantOut: AffinityDownGrace, wantErr: ErrAffinityDown, wantEntry: "ts02"},
		{name: "down past down_grace: balanced", entry: "ts02",
			prepare:   func(tb *Table) { tb.Server("ts02").ReportConnectFailure(t0.Add(-6 * time.Minute)) },
			wantCands: []string{"ts01"}, wantOut: AffinityDownExpired, wantEntry: "ts02"},
		{name: "full: balanced", entry: "ts02", prepare: func(tb *Table) { tb.Server("ts02").Acquire() },
			wantCands: []string{"ts01"}, wantOut: AffinityFull, wantEntry: "ts02"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Passive = PassiveConfig{MaxFails: 1, FailTimeout: time.Hour}
			cfg.Pools[0].Servers[1].MaxSessions = 1
			aff := &mapAffinity{m: map[string]string{}}
			if tc.entry != "" {
				aff.m["alice"] = tc.entry
			}
			tb, err := Compile(cfg, Options{Affinity: aff})
			if err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(tb)
			}
			d := tb.Decide(loginReq(`CORP\alice`))
			if !errors.Is(d.Err, tc.wantErr) || (tc.wantErr == nil && d.Err != nil) {
				t.Fatalf("err = %v, want %v (why: %s)", d.Err, tc.wantErr, d.Why)
			}
			if got := names(d.Candidates); !slices.Equal(got, tc.wantCands) && !(len(got) == 0 && len(tc.wantCands) == 0) {
				t.Errorf("candidates = %v, want %v (why: %s)", got, tc.wantCands, d.Why)
			}
			if d.Affinity != tc.wantOut {
				t.Errorf("affinity outcome = %q, want %q", d.Affinity, tc.wantOut)
			}
			if tc.wantOut != "" && !strings.Contains(d.Why, "affinity") {
				t.Errorf("why does not explain the affinity: %s", d.Why)
			}
			if got := aff.m["alice"]; got != tc.wantEntry {
				t.Errorf("entry afterwards = %q, want %q", got, tc.wantEntry)
			}
		})
	}
}

func TestRouterPlaced(t *testing.T) {
	aff := &mapAffinity{m: map[string]string{}}
	r := NewRouter(RouterOptions{Affinity: aff, Now: func() time.Time { return t0 }})
	if err := r.Apply(testConfig()); err != nil {
		t.Fatal(err)
	}
	d := r.Decide(loginReq("ALICE@corp.example.test"))
	r.Placed(d, d.Candidates[0])
	if aff.m["alice"] != d.Candidates[0].Name {
		t.Fatalf("Placed recorded %v, want alice -> %s", aff.m, d.Candidates[0].Name)
	}
	// The next decision, whatever the balance, returns to that server.
	other := "ts01"
	if d.Candidates[0].Name == "ts01" {
		other = "ts02"
	}
	r.Table().Server(d.Candidates[0].Name).Acquire() // leastconn now prefers the other
	d2 := r.Decide(loginReq("alice"))
	if names(d2.Candidates)[0] == other || d2.Affinity != AffinityHit {
		t.Errorf("returning alice: %v (%s)", names(d2.Candidates), d2.Why)
	}
	// No key (no cookie): nothing recorded.
	r.Placed(Decision{}, d.Candidates[0])
	if len(aff.m) != 1 {
		t.Errorf("entries = %v", aff.m)
	}
}

// BenchmarkDecideAffinity: a decision with an affinity hit.
func BenchmarkDecideAffinity(b *testing.B) {
	aff := &mapAffinity{m: map[string]string{"alice": "ts02"}}
	tb, err := Compile(testConfig(), Options{Affinity: aff})
	if err != nil {
		b.Fatal(err)
	}
	req := loginReq(`CORP\alice`)
	for b.Loop() {
		if d := tb.Decide(req); d.Affinity != AffinityHit {
			b.Fatal(d.Why)
		}
	}
}
