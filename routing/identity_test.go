package routing

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// crRequest is the routing Request the appliance makes of a Connection
// Request: parsed from the wire bytes, as a client sent them.
func crRequest(t *testing.T, req rdp.ConnRequest, client string) Request {
	t.Helper()
	parsed, err := rdp.ParseConnectionRequest(rdp.BuildConnectionRequest(req))
	if err != nil {
		t.Fatalf("ParseConnectionRequest: %v", err)
	}
	return Request{Cookie: parsed.Cookie, Login: rdp.NormalizeLogin(parsed.Cookie), Token: parsed.Token,
		Client: netip.MustParseAddr(client), Now: t0}
}

// TestNoCookieRejectRefusesEveryRequestWithoutIdentity: no_cookie: reject
// refuses every request that yields no login and no usable token, a line
// that is no cookie included, and nothing else.
func TestNoCookieRejectRefusesEveryRequestWithoutIdentity(t *testing.T) {
	cfg := rulesConfig()
	cfg.NoCookie = PolicyReject
	tb := mustCompile(t, cfg)
	neg := rdp.ConnRequest{HasNegReq: true, RequestedProtocols: rdp.ProtocolSSL | rdp.ProtocolHybrid}
	with := func(f func(*rdp.ConnRequest)) rdp.ConnRequest { r := neg; f(&r); return r }
	refused := []struct {
		name string
		req  rdp.ConnRequest
		why  string
	}{
		{"no line", neg, "no cookie or routing token, and no_cookie is reject"},
		{"no line, no RDP_NEG_REQ", rdp.ConnRequest{}, "no cookie or routing token, and no_cookie is reject"},
		{"blank cookie", with(func(r *rdp.ConnRequest) { r.Cookie = "   " }), "no cookie or routing token, and no_cookie is reject"},
		{"Foo: bar", with(func(r *rdp.ConnRequest) { r.Token = rdp.RoutingToken{Kind: rdp.TokenOther, Raw: "Foo: bar"} }),
			`no cookie or usable routing token (line "Foo: bar"), and no_cookie is reject`},
		{"mstshash without =", with(func(r *rdp.ConnRequest) {
			r.Token = rdp.RoutingToken{Kind: rdp.TokenOther, Raw: "Cookie: mstshash alice"}
		}), `no cookie or usable routing token (line "Cookie: mstshash alice"), and no_cookie is reject`},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			// From an office address: a network rule would match, if asked.
			d := tb.Decide(crRequest(t, tc.req, "172.16.0.1"))
			if !errors.Is(d.Err, ErrNoCookie) || errors.Is(d.Err, ErrUnknownCollection) {
				t.Fatalf("err = %v, want ErrNoCookie (%s)", d.Err, d.Why)
			}
			if d.Rule != RuleNoCookie || d.Pool != "" || len(d.Candidates) != 0 || d.Why != tc.why {
				t.Fatalf("decision %+v, want rule %q, no pool, why %q", d, RuleNoCookie, tc.why)
			}
		})
	}
	routed := []struct {
		name, pool string
		req        rdp.ConnRequest
	}{
		{"cookie", "sales", with(func(r *rdp.ConnRequest) { r.Cookie = "alice" })},
		{"tsv token", "sales", with(func(r *rdp.ConnRequest) { r.Token = rdp.RoutingToken{Kind: rdp.TokenTSV, Collection: "Sales"} })},
		{"msts token", "sales", with(func(r *rdp.ConnRequest) {
			r.Token = rdp.RoutingToken{Kind: rdp.TokenMSTS, Addr: netip.MustParseAddrPort("10.0.0.3:3389")}
		})},
	}
	for _, tc := range routed {
		t.Run(tc.name, func(t *testing.T) {
			d := tb.Decide(crRequest(t, tc.req, "192.168.1.10"))
			if d.Err != nil || d.Pool != tc.pool {
				t.Fatalf("decision %+v, want pool %q", d, tc.pool)
			}
		})
	}
}

// TestNoCookieDefaultOtherLine: with no_cookie: default a line that is no
// cookie goes through the rules like a request without line, as no-cookie.
func TestNoCookieDefaultOtherLine(t *testing.T) {
	tb := mustCompile(t, rulesConfig())
	other := rdp.RoutingToken{Kind: rdp.TokenOther, Raw: "Foo: bar"}
	d := tb.Decide(crRequest(t, rdp.ConnRequest{Token: other}, "192.168.1.10"))
	if d.Err != nil || d.Pool != "general" || d.Rule != RuleNoCookie || d.Key != "" {
		t.Fatalf("decision %+v, want general by %q", d, RuleNoCookie)
	}
	d = tb.Decide(crRequest(t, rdp.ConnRequest{Token: other}, "172.16.0.1"))
	if d.Err != nil || d.Pool != "sales" || d.Rule != "office-net" {
		t.Fatalf("decision %+v, want sales by office-net", d)
	}
}

func TestUnknownCollection(t *testing.T) {
	tsv := func(coll, client string) Request {
		return crRequest(t, rdp.ConnRequest{Token: rdp.RoutingToken{Kind: rdp.TokenTSV, Collection: coll},
			HasNegReq: true, RequestedProtocols: rdp.ProtocolSSL}, client)
	}
	tests := []struct {
		name, policy string
		req          Request
		pool, rule   string
		unknown      bool
		err          error
	}{
		{"named, reject", PolicyReject, tsv("Sales", "192.168.1.10"), "sales", "sales-coll", false, nil},
		{"named in another case, reject", PolicyReject, tsv("sALES", "192.168.1.10"), "sales", "sales-coll", false, nil},
		{"named in Windows-1252", PolicyReject, tsv("Verk\xe4ufe", "192.168.1.10"), "acct", "verkauf", false, nil},
		{"named in UTF-8", PolicyReject, tsv("VERKÄUFE", "192.168.1.10"), "acct", "verkauf", false, nil},
		{"unknown, reject", PolicyReject, tsv("Ops", "192.168.1.10"), "", RuleUnknownCollection, true, ErrUnknownCollection},
		{"unknown, reject, a network rule would match", PolicyReject, tsv("Ops", "172.16.0.1"), "", RuleUnknownCollection, true, ErrUnknownCollection},
		{"a byte away from a named one", PolicyReject, tsv("Verk\xe5ufe", "192.168.1.10"), "", RuleUnknownCollection, true, ErrUnknownCollection},
		{"unknown, default", PolicyDefault, tsv("Ops", "192.168.1.10"), "general", RuleUnknownCollection, true, nil},
		{"unknown, default, network rule", PolicyDefault, tsv("Ops", "172.16.0.1"), "sales", "office-net", true, nil},
		{"named, default", PolicyDefault, tsv("Sales", "192.168.1.10"), "sales", "sales-coll", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := rulesConfig()
			cfg.Rules = append(cfg.Rules, RuleConfig{Name: "verkauf", Pool: "acct", Collection: "Verkäufe"})
			cfg.UnknownCollection = tc.policy
			d := mustCompile(t, cfg).Decide(tc.req)
			if !errors.Is(d.Err, tc.err) || (tc.err == nil && d.Err != nil) || errors.Is(d.Err, ErrNoCookie) {
				t.Fatalf("err = %v, want %v (%s)", d.Err, tc.err, d.Why)
			}
			if d.Pool != tc.pool || d.Rule != tc.rule || d.UnknownCollection != tc.unknown {
				t.Fatalf("pool %q rule %q unknown %v, want %q %q %v (%s)", d.Pool, d.Rule, d.UnknownCollection,
					tc.pool, tc.rule, tc.unknown, d.Why)
			}
			if tc.unknown && tc.err == nil && !strings.Contains(d.Why, "(named by no rule)") {
				t.Errorf("why %q does not say the collection is named by no rule", d.Why)
			}
		})
	}
}

func TestUnknownCollectionConfig(t *testing.T) {
	if got := DefaultConfig().UnknownCollection; got != PolicyReject {
		t.Errorf("DefaultConfig().UnknownCollection = %q, want reject", got)
	}
	cfg := Config{}
	cfg.ApplyDefaults()
	if cfg.UnknownCollection != PolicyReject {
		t.Errorf("ApplyDefaults: unknown_collection %q, want reject", cfg.UnknownCollection)
	}
	cfg = rulesConfig()
	cfg.UnknownCollection = "first"
	if _, err := Compile(cfg, Options{}); err == nil || !strings.Contains(err.Error(), `unknown_collection: "first": must be default or reject`) {
		t.Errorf("Compile: %v", err)
	}
	cfg = rulesConfig()
	cfg.Rules[0].Name = RuleUnknownCollection
	if _, err := Compile(cfg, Options{}); err == nil || !strings.Contains(err.Error(), `rules[0].name: "unknown-collection": reserved name`) {
		t.Errorf("Compile: %v", err)
	}
}

// TestNonUTF8CookiesRouteAsDistinctUsers: the three Windows-1252 cookies
// of issue 18 are three logins, each meeting its own rule and its own
// affinity key.
func TestNonUTF8CookiesRouteAsDistinctUsers(t *testing.T) {
	cfg := testConfig()
	cfg.Rules = []RuleConfig{
		{Name: "juergen", Pool: "sales", Logins: []string{"jürgen"}},
		{Name: "jaergen", Pool: "acct", Logins: []string{`CORP\Järgen`}},
	}
	tb := mustCompile(t, cfg)
	tests := []struct{ cookie, key, pool, rule string }{
		{"j\xfcrgen", "jürgen", "sales", "juergen"},
		{"j\xe4rgen", "järgen", "acct", "jaergen"},
		{"j\xffrgen", "jÿrgen", "general", RuleDefault},
		{"J\xc3\x9cRGEN", "jürgen", "sales", "juergen"}, // the same name in UTF-8: the same user
	}
	for _, tc := range tests {
		d := tb.Decide(crRequest(t, rdp.ConnRequest{Cookie: tc.cookie}, "192.168.1.10"))
		if d.Err != nil || d.Key != tc.key || d.Pool != tc.pool || d.Rule != tc.rule {
			t.Errorf("cookie %q: key %q pool %q rule %q err %v, want %q %q %q", tc.cookie, d.Key, d.Pool, d.Rule, d.Err,
				tc.key, tc.pool, tc.rule)
		}
	}
}
