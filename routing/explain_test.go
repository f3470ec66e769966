package routing

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// stepsOf renders steps as "rule:+" (matched) or "rule:-criterion".
func stepsOf(steps []Step) string {
	var out []string
	for _, s := range steps {
		if s.Matched {
			out = append(out, s.Rule+":+")
		} else {
			out = append(out, s.Rule+":-"+s.Failed)
		}
	}
	return strings.Join(out, " ")
}

func TestExplainSteps(t *testing.T) {
	tb := mustCompile(t, rulesConfig())
	from := func(r Request, ip string) Request { r.Client = netip.MustParseAddr(ip); return r }
	night := func(r Request) Request { r.Now = time.Date(2025, 1, 15, 23, 0, 0, 0, time.UTC); return r }
	tsv := Request{Token: rdp.RoutingToken{Kind: rdp.TokenTSV, Collection: "Sales", Raw: "tsv://MS Terminal Services Plugin.1.Sales"},
		Client: netip.MustParseAddr("192.168.1.10"), Now: t0}
	tests := []struct {
		name       string
		req        Request
		rule, pool string
		steps      string
		why        string // in the last step's Why
		ids        string // identities: login[groups]known
	}{
		{"login", loginReq("alice"), "sales-logins", "sales", "sales-logins:+", "matched (logins)", "alice[]true"},
		{"group", loginReq("carol"), "acct-group", "acct", "sales-logins:-login acct-group:+", "matched (groups)", "carol[accounting]true"},
		{"network", from(loginReq("frank"), "172.16.1.1"), "office-net", "sales",
			"sales-logins:-login acct-group:-group office-net:+", "matched (networks)", "frank[]false"},
		{"collection", tsv, "sales-coll", "sales", "sales-logins:-login acct-group:-group office-net:-network sales-coll:+", "matched (collection)", "[]false"},
		{"time", night(loginReq("frank")), "night", "acct",
			"sales-logins:-login acct-group:-group office-net:-network sales-coll:-collection night:+", "matched (time)", "frank[]false"},
		{"default", from(loginReq("erin"), "10.8.0.1"), RuleDefault, "general",
			"sales-logins:-login acct-group:-group office-net:-network sales-coll:-collection night:-time and:-network",
			"client 10.8.0.1 is not in 10.9.0.0/16", "erin[]true"}, // known: a rule lists erin
		{"login misses after network", from(loginReq("frank"), "10.9.0.1"), RuleDefault, "general",
			"sales-logins:-login acct-group:-group office-net:-network sales-coll:-collection night:-time and:-login",
			"login frank is not among the rule's 1 login", "frank[]false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tb.Explain(tc.req)
			d := tb.Decide(tc.req)
			if e.Rule != tc.rule || e.Pool != tc.pool || e.Rule != d.Rule || e.Pool != d.Pool || e.Why != d.Why {
				t.Errorf("explain %q/%q (%s), decide %q/%q (%s), want %q/%q", e.Rule, e.Pool, e.Why, d.Rule, d.Pool, d.Why, tc.rule, tc.pool)
			}
			if got := stepsOf(e.Steps); got != tc.steps {
				t.Errorf("steps\n%s\nwant\n%s", got, tc.steps)
			}
			if last := e.Steps[len(e.Steps)-1]; !strings.Contains(last.Why, tc.why) {
				t.Errorf("last step's why %q, want %q", last.Why, tc.why)
			}
			var ids []string
			for _, id := range e.Identities {
				ids = append(ids, fmt.Sprintf("%s%v%v", id.Login, id.Groups, id.Known))
			}
			if strings.Join(ids, " ") != tc.ids || (len(ids) > 0 && tc.req.Login.Name != "" && e.DirectorySource != SourceStatic) {
				t.Errorf("identities %v from %q, want %s", ids, e.DirectorySource, tc.ids)
			}
			if e.Server == "" || e.Server != e.Candidates[0].Server || e.Candidates[0].Rank != 1 {
				t.Errorf("server %q, candidates %+v", e.Server, e.Candidates)
			}
		})
	}
}

// The criterion sentences of failed steps.
func TestExplainWhyTexts(t *testing.T) {
	tb := mustCompile(t, rulesConfig())
	e := tb.Explain(loginReq("frank"))
	want := map[string]string{
		"sales-logins": "login frank is not among the rule's 3 logins",
		"acct-group":   "login frank is in no group; the rule wants accounting",
		"office-net":   "client 192.168.1.10 is not in 172.16.0.0/12, 2001:db8::/32",
		"sales-coll":   `the request names no RDS collection; the rule wants "Sales"`,
		"night":        "Wed 10:00 UTC is outside sun,mon,tue,wed,thu,fri,sat 22:00-06:00 UTC",
		"and":          "client 192.168.1.10 is not in 10.9.0.0/16",
	}
	for _, s := range e.Steps {
		if s.Why != want[s.Rule] || s.Identity != "frank" || s.Pool == "" || s.Criteria == "" {
			t.Errorf("%s: %+v, want why %q", s.Rule, s, want[s.Rule])
		}
	}
	e = tb.Explain(loginReq("dave")) // in accounting, but listed first by sales-logins
	if len(e.Steps) != 1 || e.Rule != "sales-logins" {
		t.Errorf("dave: %s", stepsOf(e.Steps))
	}
	cfg := rulesConfig()
	cfg.Rules = cfg.Rules[1:2]
	e = mustCompile(t, cfg).Explain(loginReq("dave@corp.example"))
	if e.Steps[0].Why != "matched (groups)" || e.Identities[0].Groups[0] != "accounting" {
		t.Errorf("dave by group: %+v", e)
	}
	cfg.StaticGroups["sales"] = []string{"frank"}
	e = mustCompile(t, cfg).Explain(loginReq("frank"))
	if e.Steps[0].Why != "login frank is in sales, none of accounting" {
		t.Errorf("frank's groups: %q", e.Steps[0].Why)
	}
}

// sourcedDirectory is a fakeDirectory that says where it comes from.
type sourcedDirectory struct{ fakeDirectory }

func (sourcedDirectory) Source() string { return "ldap sync of 2025-01-15T09:55:00Z" }

func TestExplainDirectorySource(t *testing.T) {
	cfg := testConfig()
	cfg.Rules = []RuleConfig{{Name: "sales", Pool: "sales", Groups: []string{"sales"}}}
	dir := fakeDirectory{"x": {{Key: "xavier", Groups: []string{"Sales"}}}, "al": {{Key: "alice"}, {Key: "alan", Groups: []string{"Sales"}}}}
	for _, tc := range []struct {
		dir  Directory
		want string
	}{{dir, SourceDirectory}, {sourcedDirectory{dir}, "ldap sync of 2025-01-15T09:55:00Z"}} {
		r := NewRouter(RouterOptions{Directory: tc.dir})
		if err := r.Apply(cfg); err != nil {
			t.Fatal(err)
		}
		e := r.Explain(loginReq("x"))
		if e.DirectorySource != tc.want || e.Key != "xavier" || e.Pool != "sales" || len(e.Identities) != 1 ||
			e.Identities[0].Login != "xavier" || !e.Identities[0].Known || e.Identities[0].Groups[0] != "Sales" {
			t.Errorf("%+v", e)
		}
		// A truncated cookie designating two users the rules disagree on:
		// steps for each, the default pool.
		e = r.Explain(loginReq(`CORP\al`))
		if !e.Ambiguous || len(e.Identities) != 2 || stepsOf(e.Steps) != "sales:-group sales:+" || e.Steps[1].Identity != "alan" || e.Pool != "general" {
			t.Errorf("ambiguous: %s %+v", stepsOf(e.Steps), e)
		}
	}
}

// Explain and Decide agree on the server; Explain writes nothing: the
// policies do not advance, no affinity entry is placed or dropped.
func TestExplainIsDecide(t *testing.T) {
	for _, balance := range []string{BalanceLeastConn, BalanceRoundRobin} {
		t.Run(balance, func(t *testing.T) {
			aff := &mapAffinity{m: map[string]string{}}
			r := NewRouter(RouterOptions{Affinity: aff})
			if err := r.Apply(weightedConfig(balance, 3, 1, 2)); err != nil {
				t.Fatal(err)
			}
			for i := range 30 {
				user := fmt.Sprintf("u%02d", i)
				var e Explanation
				for range 3 { // explaining again changes nothing
					e = r.Explain(loginReq(user))
				}
				d := r.Decide(loginReq(user))
				if e.Server != d.Candidates[0].Name || len(aff.m) != i {
					t.Fatalf("%s: explain says %s, decide %v; %d entries", user, e.Server, names(d.Candidates), len(aff.m))
				}
				for j, c := range d.Candidates {
					if e.Candidates[slices.IndexFunc(e.Candidates, func(x Candidate) bool { return x.Server == c.Name })].Rank != j+1 {
						t.Fatalf("%s: candidate %s rank, explanation %+v", user, c.Name, e.Candidates)
					}
				}
				d.Candidates[0].Acquire()
				r.Placed(d, d.Candidates[0])
			}
		})
	}
}

func TestExplainAffinityAndCandidates(t *testing.T) {
	aff := &mapAffinity{m: map[string]string{"bob": "ts01", "carl": "ts01", "dora": "ts02"}}
	cfg := testConfig()
	cfg.Pools[0].Servers = append(cfg.Pools[0].Servers, ServerConfig{Name: "ts05", Address: "10.0.0.5:3389", MaxSessions: 1})
	r := NewRouter(RouterOptions{Affinity: aff, Now: func() time.Time { return t0 }})
	if err := r.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	tb := r.Table()
	tb.Server("ts05").Acquire() // full
	ex := func(login string) map[string]Candidate {
		m := map[string]Candidate{}
		for _, c := range r.Explain(loginReq(login)).Candidates {
			m[c.Server] = c
		}
		return m
	}
	if _, err := r.SetOverride("ts01", Override{State: Drain, Weight: 4}); err != nil {
		t.Fatal(err)
	}
	e := r.Explain(loginReq("bob"))
	if e.Server != "ts01" || e.Affinity != (AffinityInfo{Server: "ts01", Outcome: AffinityHitDrain}) {
		t.Errorf("bob on draining ts01: %+v", e)
	}
	c := ex("bob")
	if c["ts01"].Rank != 1 || c["ts01"].State != StateDraining || c["ts01"].Weight != 4 || c["ts01"].ConfiguredWeight != 1 ||
		c["ts02"].Excluded != "the user is affined to ts01" || c["ts05"].Excluded != "full" || c["ts05"].Sessions != 1 || c["ts05"].MaxSessions != 1 {
		t.Errorf("bob's candidates %+v", c)
	}
	c = ex("newuser")
	if c["ts01"].Excluded != "in drain" || c["ts02"].Rank != 1 || c["ts05"].Excluded != "full" {
		t.Errorf("new user's candidates %+v", c)
	}
	// Maintenance: the real decision drops the entry, the explanation says
	// so and leaves it.
	if _, err := r.SetOverride("ts01", Override{State: Maintenance}); err != nil {
		t.Fatal(err)
	}
	e = r.Explain(loginReq("carl"))
	if e.Server != "ts02" || e.Affinity != (AffinityInfo{Server: "ts01", Outcome: AffinityMaintenance}) || aff.m["carl"] != "ts01" {
		t.Errorf("carl, ts01 in maintenance: %+v; entry %q", e, aff.m["carl"])
	}
	if ex("carl")["ts01"].State != StateMaint {
		t.Error("ts01 not maint")
	}
	if d := r.Decide(loginReq("carl")); d.Affinity != AffinityMaintenance || aff.m["carl"] != "" {
		t.Errorf("decide: %q, entry %q", d.Affinity, aff.m["carl"])
	}
	// No entry.
	if e := r.Explain(loginReq("erin")); e.Affinity != (AffinityInfo{}) {
		t.Errorf("erin: %+v", e.Affinity)
	}
	// Down within down_grace: refused, no server.
	tb.Server("ts02").ReportConnectFailure(t0)
	e = r.Explain(loginReq("dora"))
	if e.Server != "" || e.Refused == "" || e.Affinity.Outcome != AffinityDownGrace || e.Decision.Err == nil {
		t.Errorf("dora: %+v", e)
	}
	c = ex("dora")
	if c["ts02"].State != StateDown || c["ts02"].Excluded != "failing connects" || c["ts05"].Excluded != "full" {
		t.Errorf("dora's candidates %+v", c)
	}
}

func TestExplainTokenAndRefusals(t *testing.T) {
	cfg := rulesConfig()
	cfg.NoCookie = PolicyReject
	tb := mustCompile(t, cfg)
	ap := netip.MustParseAddrPort("10.0.0.3:3389")
	e := tb.Explain(Request{Token: rdp.RoutingToken{Kind: rdp.TokenMSTS, Addr: ap, Raw: "Cookie: msts=x"}, Now: t0})
	if e.Rule != RuleMSTSToken || e.Server != "ts03" || e.Pool != "sales" || len(e.Steps) != 0 || e.Token != "Cookie: msts=x" {
		t.Errorf("token: %+v", e)
	}
	e = tb.Explain(Request{Client: netip.MustParseAddr("10.1.1.1"), Now: t0})
	if e.Rule != RuleNoCookie || e.Server != "" || e.Refused == "" || len(e.Candidates) != 0 || e.Client != "10.1.1.1" {
		t.Errorf("no cookie: %+v", e)
	}
	if e := NewRouter(RouterOptions{}).Explain(loginReq("a")); e.Refused == "" || e.Server != "" {
		t.Errorf("no table: %+v", e)
	}
}

func TestExplainJSON(t *testing.T) {
	tb := mustCompile(t, rulesConfig())
	b, err := json.Marshal(tb.Explain(loginReq("carol")))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["rule"] != "acct-group" || m["pool"] != "acct" || m["server"] != "ts04" {
		t.Errorf("json %s", b)
	}
	for _, k := range []string{"candidates", "steps", "identities"} {
		if _, ok := m[k].([]any); !ok {
			t.Errorf("%s is not a list: %s", k, b)
		}
	}
	c := m["candidates"].([]any)[0].(map[string]any)
	if c["server"] != "ts04" || c["state"] != "up" || c["admin"] != "active" || c["rank"] != 1.0 {
		t.Errorf("candidate %v", c)
	}
	s := m["steps"].([]any)[1].(map[string]any)
	if s["rule"] != "acct-group" || s["matched"] != true || s["why"] != "matched (groups)" {
		t.Errorf("step %v", s)
	}
	b, _ = json.Marshal(tb.Explain(Request{Client: netip.MustParseAddr("10.1.1.1"), Now: t0, Token: rdp.RoutingToken{Kind: rdp.TokenMSTS}}))
	if !strings.Contains(string(b), `"candidates":[]`) || !strings.Contains(string(b), `"steps":[]`) {
		t.Errorf("refusal json %s", b)
	}
}

// BenchmarkExplain: the BenchmarkDecide "group" request, explained.
func BenchmarkExplain(b *testing.B) {
	tb := mustCompile(b, rulesConfig())
	req := loginReq("frank")
	b.ReportAllocs()
	for b.Loop() {
		if e := tb.Explain(req); e.Server == "" {
			b.Fatal(e.Why)
		}
	}
}
