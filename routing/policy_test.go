package routing

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rdpbroker/rdpbroker/rdp"
)

func weightedConfig(balance string, weights ...int) Config {
	cfg := testConfig()
	cfg.Pools = cfg.Pools[:1]
	cfg.Pools[0].Balance = balance
	cfg.Pools[0].Servers = nil
	for i, w := range weights {
		cfg.Pools[0].Servers = append(cfg.Pools[0].Servers, ServerConfig{
			Name: string(rune('a' + i)), Address: "10.0.1." + string(rune('1'+i)) + ":3389", Weight: w})
	}
	return cfg
}

func TestLeastConnProportional(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		users   int
		want    []int
	}{
		{"equal", []int{1, 1}, 100, []int{50, 50}},
		{"1:3", []int{1, 3}, 400, []int{100, 300}},
		{"10:20", []int{10, 20}, 300, []int{100, 200}},
		{"10:20:70", []int{10, 20, 70}, 1000, []int{100, 200, 700}},
		{"default weight is 1", []int{0, 2}, 300, []int{100, 200}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := mustCompile(t, weightedConfig("leastconn", tc.weights...))
			for range tc.users {
				d := tb.Decide(Request{Login: rdp.NormalizeLogin("u"), Now: t0})
				if d.Err != nil || !d.Candidates[0].Acquire() {
					t.Fatalf("decision %+v", d)
				}
			}
			for i, s := range tb.Pool("general").Servers {
				if got := s.Sessions(); got < tc.want[i]-1 || got > tc.want[i]+1 {
					t.Errorf("%s (weight %d): %d sessions, want %d±1", s.Name, s.Weight, got, tc.want[i])
				}
			}
		})
	}
}

func TestLeastConnRotatesTies(t *testing.T) {
	tb := mustCompile(t, weightedConfig("leastconn", 1, 1, 1))
	var firsts []string
	for range 6 {
		firsts = append(firsts, tb.Decide(Request{Now: t0}).Candidates[0].Name)
	}
	if got := strings.Join(firsts, ""); got != "abcabc" {
		t.Errorf("first choices without sessions = %s, want abcabc", got)
	}
}

func TestRoundRobin(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		down    []int // servers in maintenance
		want    string
	}{
		{"equal", []int{1, 1, 1}, nil, "abcabc"},
		{"smooth 5:1:1", []int{5, 1, 1}, nil, "aabacaa" + "aabacaa"},
		{"2:1", []int{2, 1}, nil, "abaaba"},
		{"skips unavailable", []int{5, 1, 1}, []int{0}, "bcbc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := mustCompile(t, weightedConfig("roundrobin", tc.weights...))
			servers := tb.Pool("general").Servers
			for _, i := range tc.down {
				servers[i].SetAdminState(Maintenance)
			}
			var b strings.Builder
			for range len(tc.want) {
				d := tb.Decide(Request{Now: t0})
				b.WriteString(d.Candidates[0].Name)
			}
			if b.String() != tc.want {
				t.Errorf("sequence = %s, want %s", b.String(), tc.want)
			}
		})
	}
}

func TestRoundRobinTryOrder(t *testing.T) {
	cfg := weightedConfig("roundrobin", 1, 1, 1, 1)
	cfg.Retries = 3
	tb := mustCompile(t, cfg)
	tb.Server("c").SetAdminState(Drain)
	want := [][]string{{"a", "b", "d"}, {"b", "d", "a"}, {"d", "a", "b"}}
	for i, w := range want {
		if got := names(tb.Decide(Request{Now: t0}).Candidates); !slices.Equal(got, w) {
			t.Errorf("decision %d: %v, want %v", i, got, w)
		}
	}
}

func TestRoundRobinWeightedTryOrder(t *testing.T) {
	cfg := weightedConfig("roundrobin", 5, 1, 1)
	tb := mustCompile(t, cfg) // retries 2: all three servers
	// Current weights after each pick: (-2,1,1) (-4,2,2) (1,-4,3) (-1,-3,4):
	// the rest follows them, highest first, ties in ring order.
	want := [][]string{{"a", "b", "c"}, {"a", "b", "c"}, {"b", "c", "a"}, {"a", "c", "b"}}
	for i, w := range want {
		if got := names(tb.Decide(Request{Now: t0}).Candidates); !slices.Equal(got, w) {
			t.Errorf("decision %d: %v, want %v", i, got, w)
		}
	}
}

// TestPoliciesSkipWeightZero: Compile never makes weight-0 servers, but
// a Policy handed one never chooses it.
func TestPoliciesSkipWeightZero(t *testing.T) {
	mk := func(name string, weight int) *Server {
		return &Server{Name: name, Weight: weight, check: CheckNone, st: newServerState(name, "p", name+":3389")}
	}
	servers := []*Server{mk("zero", 0), mk("one", 1), mk("neg", -1), mk("two", 2)}
	for _, p := range []Policy{&LeastConn{}, NewRoundRobin(len(servers))} {
		for range 4 {
			got := names(p.Order(servers, t0, nil))
			if slices.Contains(got, "zero") || slices.Contains(got, "neg") || len(got) != 2 {
				t.Errorf("%T: %v", p, got)
			}
		}
	}
	if got := NewRoundRobin(1).Order(servers[:1], t0, nil); len(got) != 0 {
		t.Errorf("only a weight-0 server: %v", names(got))
	}
}

func TestRoundRobinLargePool(t *testing.T) {
	var weights []int
	for range 40 { // more than the stack buffer
		weights = append(weights, 1)
	}
	cfg := testConfig()
	cfg.Pools = cfg.Pools[:1]
	cfg.Pools[0].Balance = "roundrobin"
	cfg.Pools[0].Servers = nil
	for i := range weights {
		cfg.Pools[0].Servers = append(cfg.Pools[0].Servers, ServerConfig{
			Name: fmt.Sprintf("s%02d", i), Address: fmt.Sprintf("10.0.2.%d:3389", i+1)})
	}
	tb := mustCompile(t, cfg)
	seen := map[string]bool{}
	for range 40 {
		d := tb.Decide(Request{Now: t0})
		if len(d.Candidates) != 3 {
			t.Fatalf("candidates %v", names(d.Candidates))
		}
		seen[d.Candidates[0].Name] = true
	}
	if len(seen) != 40 {
		t.Errorf("%d distinct first choices over 40 decisions, want 40", len(seen))
	}
}
