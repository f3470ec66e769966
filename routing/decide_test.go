package routing

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

func rulesConfig() Config {
	cfg := testConfig()
	cfg.Rules = []RuleConfig{
		{Name: "sales-logins", Pool: "sales", Logins: []string{"alice", `CORP\bob`, "dave@corp.example"}},
		{Name: "acct-group", Pool: "acct", Groups: []string{"Accounting"}},
		{Name: "office-net", Pool: "sales", Networks: []string{"172.16.0.0/12", "2001:db8::/32"}},
		{Name: "sales-coll", Pool: "sales", Collection: "Sales"},
		{Name: "night", Pool: "acct", Time: &TimeWindowConfig{From: "22:00", To: "06:00", Location: "UTC"}},
		{Name: "and", Pool: "acct", Logins: []string{"erin"}, Networks: []string{"10.9.0.0/16"}},
	}
	cfg.StaticGroups = map[string][]string{"accounting": {"carol", "dave"}} // viper lower-cases keys
	return cfg
}

func TestDecideRules(t *testing.T) {
	tb := mustCompile(t, rulesConfig())
	from := func(r Request, ip string) Request { r.Client = netip.MustParseAddr(ip); return r }
	at := func(r Request, hhmm string) Request {
		tm, _ := time.Parse("15:04", hhmm)
		r.Now = time.Date(2025, 1, 15, tm.Hour(), tm.Minute(), 0, 0, time.UTC)
		return r
	}
	tsv := func(coll string) Request {
		return Request{Token: rdp.RoutingToken{Kind: rdp.TokenTSV, Collection: coll}, Client: netip.MustParseAddr("192.168.1.10"), Now: t0}
	}
	tests := []struct {
		name           string
		req            Request
		key, pool, rul string
	}{
		{"login", loginReq("alice"), "alice", "sales", "sales-logins"},
		{"login domain form", loginReq(`CORP\Bob`), "bob", "sales", "sales-logins"},
		{"login upn form", loginReq("BOB@corp.example"), "bob", "sales", "sales-logins"},
		{"group", loginReq("carol"), "carol", "acct", "acct-group"},
		{"first match wins", loginReq("dave"), "dave", "sales", "sales-logins"},
		{"network v4", from(loginReq("frank"), "172.16.5.5"), "frank", "sales", "office-net"},
		{"network v6", from(loginReq("frank"), "2001:db8::5"), "frank", "sales", "office-net"},
		{"network v4-mapped client", from(loginReq("frank"), "::ffff:172.16.5.5"), "frank", "sales", "office-net"},
		{"no rule", loginReq("frank"), "frank", "general", "default"},
		{"collection", tsv("Sales"), "", "sales", "sales-coll"},
		{"collection case-insensitive", tsv("SALES"), "", "sales", "sales-coll"},
		{"time window", at(loginReq("frank"), "23:30"), "frank", "acct", "night"},
		{"time window after midnight", at(loginReq("frank"), "05:59"), "frank", "acct", "night"},
		{"time window outside", at(loginReq("frank"), "06:00"), "frank", "general", "default"},
		{"all criteria", from(loginReq("erin"), "10.9.1.1"), "erin", "acct", "and"},
		{"all criteria: network misses", loginReq("erin"), "erin", "general", "default"},
		{"all criteria: login misses", from(loginReq("frank"), "10.9.1.1"), "frank", "general", "default"},
		{"no cookie", Request{Client: netip.MustParseAddr("192.168.1.10"), Now: t0}, "", "general", "no-cookie"},
		{"no cookie, network rule", Request{Client: netip.MustParseAddr("172.16.0.1"), Now: t0}, "", "sales", "office-net"},
		{"no cookie, blank cookie", Request{Login: rdp.NormalizeLogin("  "), Token: rdp.RoutingToken{Kind: rdp.TokenCookie}, Now: t0}, "", "general", "no-cookie"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tb.Decide(tc.req)
			if d.Err != nil || d.Key != tc.key || d.Pool != tc.pool || d.Rule != tc.rul {
				t.Errorf("got key=%q pool=%q rule=%q err=%v, want %q %q %q (%s)", d.Key, d.Pool, d.Rule, d.Err, tc.key, tc.pool, tc.rul, d.Why)
			}
			if len(d.Candidates) == 0 || d.Candidates[0].Pool != tc.pool || d.Why == "" {
				t.Errorf("candidates %v, why %q", names(d.Candidates), d.Why)
			}
		})
	}
}

func TestDecideNoCookieReject(t *testing.T) {
	cfg := rulesConfig()
	cfg.NoCookie = "reject"
	tb := mustCompile(t, cfg)
	d := tb.Decide(Request{Client: netip.MustParseAddr("172.16.0.1"), Now: t0})
	if !errors.Is(d.Err, ErrNoCookie) || d.Rule != RuleNoCookie || len(d.Candidates) != 0 {
		t.Errorf("decision = %+v", d)
	}
	// A tsv token is not "no cookie".
	d = tb.Decide(Request{Token: rdp.RoutingToken{Kind: rdp.TokenTSV, Collection: "Sales"}, Now: t0})
	if d.Err != nil || d.Pool != "sales" {
		t.Errorf("tsv decision = %+v", d)
	}
}

func TestDecideMSTSToken(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[1].Health.Check = CheckTCP
	cfg.Pools[1].Servers[0].MaxSessions = 1
	cfg.Pools = append(cfg.Pools, PoolConfig{Name: "named", Health: HealthConfig{Check: CheckNone},
		Servers: []ServerConfig{{Name: "ts05", Address: "ts05.example:3389"}}})
	token := func(addr string) Request {
		return Request{Token: rdp.RoutingToken{Kind: rdp.TokenMSTS, Addr: netip.MustParseAddrPort(addr)}, Now: t0}
	}
	tests := []struct {
		name    string
		setup   func(*Table)
		req     Request
		want    string // server name, or "" for refused
		whyPart string
	}{
		{"honoured", nil, token("10.0.0.3:3389"), "ts03", "names server ts03"},
		{"v4-mapped", nil, token("[::ffff:10.0.0.3]:3389"), "ts03", "names server ts03"},
		{"unknown address", nil, token("10.0.0.9:3389"), "", "not a configured server"},
		{"other port", nil, token("10.0.0.3:3390"), "", "not a configured server"},
		{"zero address", nil, Request{Token: rdp.RoutingToken{Kind: rdp.TokenMSTS}, Now: t0}, "", "not a configured server"},
		{"down", func(tb *Table) {
			for range 3 {
				tb.Server("ts03").st.record(errors.New("refused"), t0, 2, 3)
			}
		}, token("10.0.0.3:3389"), "", "which is down"},
		{"maintenance", func(tb *Table) { tb.Server("ts03").SetAdminState(Maintenance) }, token("10.0.0.3:3389"), "", "in maintenance"},
		{"drain still honoured", func(tb *Table) { tb.Server("ts03").SetAdminState(Drain) }, token("10.0.0.3:3389"), "ts03", "names server ts03"},
		{"passively failed", func(tb *Table) { tb.Server("ts03").ReportConnectFailure(t0) }, token("10.0.0.3:3389"), "", "failing connects"},
		{"full", func(tb *Table) { tb.Server("ts03").Acquire() }, token("10.0.0.3:3389"), "", "which is full"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := mustCompile(t, cfg)
			if tc.setup != nil {
				tc.setup(tb)
			}
			d := tb.Decide(tc.req)
			if !strings.Contains(d.Why, tc.whyPart) || d.Rule != RuleMSTSToken {
				t.Errorf("why = %q, rule %q", d.Why, d.Rule)
			}
			if tc.want == "" {
				if !errors.Is(d.Err, ErrTokenRefused) || len(d.Candidates) != 0 {
					t.Errorf("not refused: %+v", d)
				}
				return
			}
			if d.Err != nil || !slices.Equal(names(d.Candidates), []string{tc.want}) || d.Pool != "sales" {
				t.Errorf("decision = %+v", d)
			}
		})
	}
}

func TestDecideAmbiguous(t *testing.T) {
	agree := map[string][]string{"Sales": {"alice", "alicia"}, "Acct": {"bob"}}
	disagree := map[string][]string{"Sales": {"alice"}, "Acct": {"alicia"}}
	groupRules := []RuleConfig{{Name: "acct", Pool: "acct", Groups: []string{"acct"}}, {Name: "sales", Pool: "sales", Groups: []string{"SALES"}}}
	loginRules := []RuleConfig{{Name: "acct", Pool: "acct", Logins: []string{"alicia"}}, {Name: "sales", Pool: "sales", Logins: []string{"alice"}}}
	tests := []struct {
		name      string
		groups    map[string][]string
		rules     []RuleConfig
		policy    string
		login     string
		key, pool string
		rule      string
		err       error
	}{
		{"agree", agree, groupRules, "", `CORP\alic`, "alic", "sales", "sales", nil},
		{"disagree default", disagree, groupRules, "default", `CORP\alic`, "alic", "general", "default", nil},
		{"disagree first", disagree, groupRules, "first", `CORP\alic`, "alic", "sales", "sales", nil},
		{"disagree reject", disagree, groupRules, "reject", `CORP\alic`, "alic", "", "", ErrAmbiguous},
		{"disagree by login rules", nil, loginRules, "reject", `CORP\alic`, "alic", "", "", ErrAmbiguous},
		{"not truncated: exact only", disagree, groupRules, "reject", `alic`, "alic", "general", "default", nil},
		{"one match", agree, groupRules, "reject", `CORP\bob1`, "bob1", "general", "default", nil},
		{"truncated resolves to one", map[string][]string{"Sales": {"alice"}}, groupRules, "reject", `CORP\alic`, "alice", "sales", "sales", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Ambiguous, cfg.StaticGroups, cfg.Rules = tc.policy, tc.groups, tc.rules
			d := mustCompile(t, cfg).Decide(loginReq(tc.login))
			if !errors.Is(d.Err, tc.err) || (tc.err == nil && d.Err != nil) || d.Pool != tc.pool || d.Rule != tc.rule || d.Key != tc.key {
				t.Errorf("got key=%q pool=%q rule=%q err=%v; want %q %q %q %v\nwhy: %s", d.Key, d.Pool, d.Rule, d.Err,
					tc.key, tc.pool, tc.rule, tc.err, d.Why)
			}
			if wantAmb := strings.HasPrefix(tc.name, "disagree"); d.Ambiguous != wantAmb {
				t.Errorf("Ambiguous = %v, want %v", d.Ambiguous, wantAmb)
			}
			if tc.err != nil && !strings.Contains(d.Why, "different pools") {
				t.Errorf("why = %q", d.Why)
			}
		})
	}
}

// fakeDirectory resolves from a fixed map of login name -> identities.
type fakeDirectory map[string][]Identity

func (f fakeDirectory) Resolve(l rdp.Login) []Identity { return f[l.Name] }

func TestDecideDirectory(t *testing.T) {
	cfg := testConfig()
	cfg.Rules = []RuleConfig{{Name: "sales", Pool: "sales", Groups: []string{"sales"}}, {Name: "a", Pool: "acct", Logins: []string{"alice.long"}}}
	dir := fakeDirectory{
		"x":     {{Key: "xavier", Groups: []string{"CN-Users", "Sales"}}},
		"alice": {{Key: "alice.long"}},
	}
	tb, err := Compile(cfg, Options{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	for login, want := range map[string][2]string{
		"x":     {"xavier", "sales"},
		"alice": {"alice.long", "acct"},
		"zed":   {"zed", "general"},
		// Unknown to the directory and maybe truncated: the login itself
		// matches the rule logins it is a prefix of.
		`CORP\alic`: {"alic", "acct"},
		`CORP\xyzw`: {"xyzw", "general"},
	} {
		if d := tb.Decide(loginReq(login)); d.Key != want[0] || d.Pool != want[1] {
			t.Errorf("%s: key %q pool %q, want %v", login, d.Key, d.Pool, want)
		}
	}
	if tb.Directory() == nil {
		t.Error("no directory")
	}
}

func TestDecideAvailability(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		setup  func(*Table)
		now    time.Time
		want   []string
	}{
		{"both", nil, nil, t0, []string{"ts01", "ts02"}},
		{"least loaded first", nil, func(tb *Table) { tb.Server("ts01").Acquire() }, t0, []string{"ts02", "ts01"}},
		{"retries cap", func(c *Config) { c.Retries = 0 }, func(tb *Table) { tb.Server("ts02").Acquire() }, t0, []string{"ts01"}},
		{"full excluded", func(c *Config) { c.Pools[0].Servers[0].MaxSessions = 1 }, func(tb *Table) { tb.Server("ts01").Acquire() }, t0, []string{"ts02"}},
		{"drain excluded", nil, func(tb *Table) { tb.Server("ts02").SetAdminState(Drain) }, t0, []string{"ts01"}},
		{"maintenance excluded", nil, func(tb *Table) { tb.Server("ts01").SetAdminState(Maintenance) }, t0, []string{"ts02"}},
		{"down excluded", func(c *Config) { c.Pools[0].Health.Check = CheckTCP }, func(tb *Table) {
			tb.Server("ts01").st.down.Store(true)
		}, t0, []string{"ts02"}},
		{"passive failure excluded", nil, func(tb *Table) { tb.Server("ts01").ReportConnectFailure(t0) }, t0.Add(9 * time.Second), []string{"ts02"}},
		{"passive failure expires", nil, func(tb *Table) { tb.Server("ts01").ReportConnectFailure(t0) }, t0.Add(10 * time.Second), []string{"ts01", "ts02"}},
		{"passive max_fails not reached", func(c *Config) { c.Passive.MaxFails = 2 }, func(tb *Table) {
			tb.Server("ts01").ReportConnectFailure(t0)
		}, t0, []string{"ts01", "ts02"}},
		{"passive max_fails reached", func(c *Config) { c.Passive.MaxFails = 2 }, func(tb *Table) {
			tb.Server("ts01").ReportConnectFailure(t0)
			tb.Server("ts01").ReportConnectFailure(t0)
		}, t0, []string{"ts02"}},
		{"passive success resets", func(c *Config) { c.Passive.MaxFails = 2 }, func(tb *Table) {
			tb.Server("ts01").ReportConnectFailure(t0)
			tb.Server("ts01").ReportConnectSuccess()
			tb.Server("ts01").ReportConnectFailure(t0)
		}, t0, []string{"ts01", "ts02"}},
		{"passive disabled", func(c *Config) { c.Passive.MaxFails = 0 }, func(tb *Table) {
			tb.Server("ts01").ReportConnectFailure(t0)
		}, t0, []string{"ts01", "ts02"}},
		{"none available", nil, func(tb *Table) {
			tb.Server("ts01").SetAdminState(Maintenance)
			tb.Server("ts02").SetAdminState(Drain)
		}, t0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.modify != nil {
				tc.modify(&cfg)
			}
			tb := mustCompile(t, cfg)
			if tc.setup != nil {
				tc.setup(tb)
			}
			d := tb.Decide(Request{Login: rdp.NormalizeLogin("frank"), Now: tc.now})
			if got := names(d.Candidates); !slices.Equal(got, tc.want) {
				t.Errorf("candidates = %v, want %v (%s)", got, tc.want, d.Why)
			}
			if tc.want == nil && (!errors.Is(d.Err, ErrNoServer) || d.Pool != "general" || !strings.Contains(d.Why, "no available server")) {
				t.Errorf("decision = %+v", d)
			}
		})
	}
}

func TestDecideWhy(t *testing.T) {
	cfg := rulesConfig()
	cfg.Pools[1].Balance = BalanceRoundRobin
	tb := mustCompile(t, cfg)
	noCookie := Request{Client: netip.MustParseAddr("192.168.1.10"), Now: t0}
	officeNoCookie := noCookie
	officeNoCookie.Client = netip.MustParseAddr("172.16.0.1")
	other := Request{Token: rdp.RoutingToken{Kind: rdp.TokenOther, Raw: "ROUTE ME"}, Now: t0}
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"login rule", loginReq("alice"), `login alice matched rule "sales-logins" (logins): pool sales, try ts03`},
		{"domain form", loginReq(`CORP\Bob`), `login bob matched rule "sales-logins" (logins): pool sales, try ts03`},
		{"group rule", loginReq("carol"), `login carol matched rule "acct-group" (groups): pool acct, try ts04`},
		{"two criteria", func() Request { r := loginReq("erin"); r.Client = netip.MustParseAddr("10.9.0.1"); return r }(),
			`login erin matched rule "and" (logins+networks): pool acct, try ts04`},
		{"no rule", loginReq("frank"), `login frank matched no rule: default pool general, try ts01, ts02`},
		{"truncated, one user", loginReq(`CORP\caro`), `login carol (cookie "CORP\\caro") matched rule "acct-group" (groups): pool acct, try ts04`},
		{"no cookie", noCookie, `request without cookie or routing token matched no rule: default pool general, try ts02, ts01`},
		{"no cookie, network", officeNoCookie, `request without cookie or routing token matched rule "office-net" (networks): pool sales, try ts03`},
		{"collection", Request{Token: rdp.RoutingToken{Kind: rdp.TokenTSV, Collection: "Sales"}, Now: t0},
			`collection "Sales" matched rule "sales-coll" (collection): pool sales, try ts03`},
		{"other token", other, `request without cookie or usable routing token (line "ROUTE ME") matched no rule: default pool general, try ts01, ts02`},
		{"collection named by no rule", Request{Token: rdp.RoutingToken{Kind: rdp.TokenTSV, Collection: "Ops"}, Now: t0},
			`collection "Ops" is named by no rule, and unknown_collection is reject`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := tb.Decide(tc.req); d.Why != tc.want {
				t.Errorf("why =\n%s\nwant\n%s", d.Why, tc.want)
			}
		})
	}
}

func TestServerByAddr(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[2].Servers[0].Address = "ts04.example:3389"
	tb := mustCompile(t, cfg)
	tests := []struct{ addr, want string }{
		{"10.0.0.1:3389", "ts01"},
		{"[::ffff:10.0.0.2]:3389", "ts02"},
		{"10.0.0.1:3390", ""},
		{"10.0.0.4:3389", ""}, // ts04 is configured by name
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			s := tb.ServerByAddr(netip.MustParseAddrPort(tc.addr))
			if (s == nil && tc.want != "") || (s != nil && s.Name != tc.want) {
				t.Errorf("ServerByAddr(%s) = %v, want %q", tc.addr, s, tc.want)
			}
		})
	}
	if tb.ServerByAddr(netip.AddrPort{}) != nil {
		t.Error("zero AddrPort matched")
	}
}
