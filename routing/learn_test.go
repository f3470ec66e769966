package routing

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

func TestLearnerLookup(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.7")
	win := 10 * time.Minute
	type obs struct {
		addr  string
		login string
		ago   time.Duration
	}
	tests := []struct {
		name  string
		obs   []obs
		addr  string
		wantN int
		want  string // the most recent login when wantN > 0
	}{
		{name: "nothing", wantN: 0},
		{name: "one login", obs: []obs{{"192.0.2.7", "alice", time.Minute}}, wantN: 1, want: "alice"},
		{name: "one login, twice", obs: []obs{{"192.0.2.7", "alice", 5 * time.Minute}, {"192.0.2.7", "CORP\\Alice", time.Minute}},
			wantN: 1, want: "alice"},
		{name: "two logins", obs: []obs{{"192.0.2.7", "alice", 2 * time.Minute}, {"192.0.2.7", "bob", time.Minute}},
			wantN: 2, want: "bob"},
		{name: "three logins, two kept", obs: []obs{{"192.0.2.7", "alice", 3 * time.Minute},
			{"192.0.2.7", "bob", 2 * time.Minute}, {"192.0.2.7", "carol", time.Minute}}, wantN: 2, want: "carol"},
		{name: "the other login expired", obs: []obs{{"192.0.2.7", "alice", 11 * time.Minute}, {"192.0.2.7", "bob", time.Minute}},
			wantN: 1, want: "bob"},
		{name: "everything expired", obs: []obs{{"192.0.2.7", "alice", 10 * time.Minute}}, wantN: 0},
		{name: "another address", obs: []obs{{"192.0.2.8", "alice", time.Minute}}, wantN: 0},
		{name: "IPv4-mapped is the same host", obs: []obs{{"::ffff:192.0.2.7", "alice", time.Minute}}, wantN: 1, want: "alice"},
		{name: "IPv6 /128", obs: []obs{{"2001:db8::1", "alice", time.Minute}, {"2001:db8::2", "bob", time.Minute}},
			addr: "2001:db8::1", wantN: 1, want: "alice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLearner(0)
			for _, o := range tc.obs {
				login := rdp.NormalizeLogin(o.login)
				l.Observe(netip.MustParseAddr(o.addr), login.Key(), login, t0.Add(-o.ago), win)
			}
			addr := a
			if tc.addr != "" {
				addr = netip.MustParseAddr(tc.addr)
			}
			n, login, key := l.Lookup(addr, t0, win)
			if n != tc.wantN || (n > 0 && (login.Name != tc.want || key != tc.want)) {
				t.Errorf("Lookup = %d, %q (%q), want %d, %q", n, login.Name, key, tc.wantN, tc.want)
			}
		})
	}
}

func TestLearnerBounded(t *testing.T) {
	l := NewLearner(3)
	win := time.Hour
	alice := rdp.NormalizeLogin("alice")
	for i := range 4 { // 10.0.0.1 is observed first, then forgotten
		l.Observe(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), "alice", alice, t0.Add(time.Duration(i)*time.Second), win)
	}
	if n := l.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
	if n, _, _ := l.Lookup(netip.MustParseAddr("10.0.0.1"), t0.Add(time.Minute), win); n != 0 {
		t.Errorf("oldest address still known")
	}
	// Observing 10.0.0.2 again makes 10.0.0.3 the oldest.
	l.Observe(netip.MustParseAddr("10.0.0.2"), "alice", alice, t0.Add(time.Minute), win)
	l.Observe(netip.MustParseAddr("10.0.0.9"), "alice", alice, t0.Add(time.Minute), win)
	for addr, want := range map[string]int{"10.0.0.2": 1, "10.0.0.3": 0, "10.0.0.4": 1, "10.0.0.9": 1} {
		if n, _, _ := l.Lookup(netip.MustParseAddr(addr), t0.Add(time.Minute), win); n != want {
			t.Errorf("%s: %d logins, want %d", addr, n, want)
		}
	}
	// An observation an hour later forgets every expired address.
	l.Observe(netip.MustParseAddr("10.0.0.5"), "alice", alice, t0.Add(2*time.Hour), win)
	if n := l.Len(); n != 1 {
		t.Errorf("Len after expiry = %d, want 1", n)
	}
}

// learnedConfig: no_cookie learned; alice and bob go to sales (ts03,
// ts05), the rest to general (ts01, ts02).
func learnedConfig() Config {
	cfg := testConfig()
	cfg.NoCookie = PolicyLearned
	cfg.Pools[1].Servers = append(cfg.Pools[1].Servers, ServerConfig{Name: "ts05", Address: "10.0.0.5:3389"})
	cfg.Rules = []RuleConfig{{Name: "sales", Pool: "sales", Logins: []string{"alice", "bob"}}}
	return cfg
}

func noCookieReq(addr string, at time.Time) Request {
	return Request{Client: netip.MustParseAddr(addr), Now: at}
}

func TestDecideLearned(t *testing.T) {
	aff := &mapAffinity{m: map[string]string{"alice": "ts05"}}
	r := NewRouter(RouterOptions{Affinity: aff, Now: func() time.Time { return t0 }})
	if err := r.Apply(learnedConfig()); err != nil {
		t.Fatal(err)
	}
	at := func(login, addr string, ago time.Duration) {
		req := loginReq(login)
		req.Client, req.Now = netip.MustParseAddr(addr), t0.Add(-ago)
		if d := r.Decide(req); d.Err != nil || d.Learned != "" {
			t.Fatalf("%s: %v, learned %q", login, d.Err, d.Learned)
		}
	}
	at(`CORP\alice`, "192.0.2.1", 2*time.Minute) // alice alone on .1
	at("alice", "192.0.2.2", 2*time.Minute)      // alice and bob on .2
	at("bob", "192.0.2.2", time.Minute)
	at("carol", "192.0.2.3", 11*time.Minute) // too long ago

	tests := []struct {
		addr, learned, key, rule, pool string
		cands                          []string
		affinity                       string
	}{
		{"192.0.2.1", LearnedOne, "alice", "sales", "sales", []string{"ts05"}, AffinityHit},
		{"192.0.2.2", LearnedAmbiguous, "", RuleNoCookie, "general", []string{"ts01", "ts02"}, AffinityNone},
		{"192.0.2.3", LearnedNone, "", RuleNoCookie, "general", []string{"ts01", "ts02"}, AffinityNone},
		{"192.0.2.4", LearnedNone, "", RuleNoCookie, "general", []string{"ts01", "ts02"}, AffinityNone},
	}
	for _, tc := range tests {
		d := r.Decide(noCookieReq(tc.addr, t0))
		if d.Err != nil || d.Learned != tc.learned || d.Key != tc.key || d.Rule != tc.rule || d.Pool != tc.pool ||
			!slices.Equal(slices.Sorted(slices.Values(names(d.Candidates))), tc.cands) || d.Affinity != tc.affinity {
			t.Errorf("%s: learned %q key %q rule %q pool %q cands %v affinity %q (err %v; %s)", tc.addr, d.Learned, d.Key,
				d.Rule, d.Pool, names(d.Candidates), d.Affinity, d.Err, d.Why)
		}
		if tc.learned == LearnedOne && !strings.Contains(d.Why, "learned") {
			t.Errorf("%s: why %q does not say learned", tc.addr, d.Why)
		}
	}
	// A cookieless request teaches nothing: .1 forgets alice with her cookie.
	if d := r.Decide(noCookieReq("192.0.2.1", t0.Add(7*time.Minute))); d.Learned != LearnedOne {
		t.Errorf("at +7m (9m after the cookie): %q", d.Learned)
	}
	if d := r.Decide(noCookieReq("192.0.2.1", t0.Add(8*time.Minute+time.Second))); d.Learned != LearnedNone {
		t.Errorf("at +8m01s (10m01s after the cookie): %q", d.Learned)
	}
	// A reload keeps what was learned.
	if err := r.Apply(learnedConfig()); err != nil {
		t.Fatal(err)
	}
	if d := r.Decide(noCookieReq("192.0.2.2", t0)); d.Learned != LearnedAmbiguous {
		t.Errorf("after reload: %q", d.Learned)
	}
}

func TestNoCookieDefaultLearnsNothing(t *testing.T) {
	tb := mustCompile(t, testConfig())
	tb.Decide(loginReq("alice"))
	if d := tb.Decide(noCookieReq("192.168.1.10", t0)); d.Learned != "" || d.Key != "" || tb.Learner() != nil {
		t.Errorf("no_cookie default: learned %q key %q", d.Learned, d.Key)
	}
}

func TestExplainLearned(t *testing.T) {
	tb := mustCompile(t, learnedConfig())
	tb.Decide(loginReq("alice")) // from 192.168.1.10
	e := tb.Explain(noCookieReq("192.168.1.10", t0.Add(time.Minute)))
	if e.Learned == nil || e.Learned.Outcome != LearnedOne || e.Learned.Login != "alice" ||
		!slices.Equal(e.Learned.Logins, []string{"alice"}) || e.Learned.Window != DefaultLearnWindow || e.Pool != "sales" {
		t.Fatalf("explanation: %+v, learned %+v", e, e.Learned)
	}
	if !strings.Contains(e.Why, "learned, the only login from 192.168.1.10") {
		t.Errorf("why = %q", e.Why)
	}
	// Explain writes nothing: explaining a login teaches nothing.
	req := loginReq("bob")
	req.Client = netip.MustParseAddr("192.0.2.9")
	tb.Explain(req)
	if e := tb.Explain(noCookieReq("192.0.2.9", t0)); e.Learned.Outcome != LearnedNone || len(e.Learned.Logins) != 0 {
		t.Errorf("after explaining bob: %+v", e.Learned)
	}
	tb.Decide(req)
	if e := tb.Explain(noCookieReq("192.0.2.9", t0)); e.Learned.Outcome != LearnedOne {
		t.Errorf("after deciding bob: %+v", e.Learned)
	}
}

func TestCompileLearnAndUDPAddress(t *testing.T) {
	cfg := learnedConfig()
	cfg.LearnWindow = -time.Second
	cfg.Pools[0].Servers[0].UDPAddress = "10.0.0.1"
	_, err := Compile(cfg, Options{})
	for _, want := range []string{"learn_window: -1s: must be >= 0", `pools[0].servers[0].udp_address: "10.0.0.1": missing port in address`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	cfg = learnedConfig()
	cfg.Pools[0].Servers[1].UDPAddress = "10.0.1.2:3391"
	tb := mustCompile(t, cfg)
	if a, b := tb.Server("ts01").UDPAddress, tb.Server("ts02").UDPAddress; a != "10.0.0.1:3389" || b != "10.0.1.2:3391" {
		t.Errorf("udp addresses %q %q", a, b)
	}
}

// TestDecideLearnedAllocs: the learned step adds no allocation to a
// decision (Why's builder and the try order are Decide's two).
func TestDecideLearnedAllocs(t *testing.T) {
	tb := mustCompile(t, learnedConfig())
	login := loginReq("carol")
	tb.Decide(login)
	learned := noCookieReq("192.168.1.10", t0)
	base := testing.AllocsPerRun(200, func() { tb.Decide(login) })
	if n := testing.AllocsPerRun(200, func() { tb.Decide(learned) }); n > base {
		t.Errorf("learned decision: %v allocs, a login's: %v", n, base)
	}
}

// BenchmarkDecideLearned: a cookieless request routed as the login its
// address presented.
func BenchmarkDecideLearned(b *testing.B) {
	tb := mustCompile(b, learnedConfig())
	tb.Decide(loginReq("carol"))
	req := noCookieReq("192.168.1.10", t0)
	b.ReportAllocs()
	for b.Loop() {
		if d := tb.Decide(req); d.Learned != LearnedOne {
			b.Fatal(d.Why)
		}
	}
}
