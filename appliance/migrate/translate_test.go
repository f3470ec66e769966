package migrate

import (
	"errors"
	"strings"
	"testing"
)

// unknownCfg has one construct per kind of difference; the test names
// the line each warning must carry.
const unknownCfg = `global
    maxconn 500
    lua-load /etc/haproxy/x.lua
defaults
    mode tcp
    timeout connect 5s
    default-server inter 4s
frontend rdp
    bind 10.0.0.1:3389,10.0.0.2:3389 name rdp
    tcp-request inspect-delay 5s
    tcp-request content reject if !RDP_COOKIE
    acl admins rdp_cookie(mstshash) alice Bob
    acl office src 10.20.0.0/16 not-an-ip
    acl beg rdp_cookie(mstshash) -m beg adm
    acl hdr req.payload(0,4) -m bin 0300
    use_backend B if admins office
    use_backend B if !admins
    use_backend B unless office
    use_backend B if beg || hdr
    use_backend A if office
    default_backend A
    option splice-auto
backend A
    balance source
    server a1 10.0.1.1:3389 check id 7
    server a2 10.0.1.2 check weight 0
    server a3 10.0.1.3:3389 backup
backend B
    server b1 10.0.2.1:3389 send-proxy maxconn 40
    server a1 10.0.2.2:3389 check inter 9s
    stick-table type ip size 1m expire 30m
    stick on src
`

func TestWarningsCarryLines(t *testing.T) {
	cfg, err := Parse("haproxy.cfg", []byte(unknownCfg))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Translate(cfg, Options{LoginsDir: "/etc/rdpbroker/logins"})
	if err != nil {
		t.Fatal(err)
	}
	all := render(res)
	for _, want := range []string{
		`haproxy.cfg:3: warning: global "lua-load /etc/haproxy/x.lua": not translated`,
		`haproxy.cfg:9: warning: "bind 10.0.0.1:3389,10.0.0.2:3389 name rdp": rdpbroker listens on one address: only 10.0.0.1:3389 is translated`,
		`haproxy.cfg:12: warning: acl admins: without -i HAProxy compared case-sensitively`,
		`haproxy.cfg:13: warning: acl office: "not-an-ip" is not an IP address or network: left out`,
		`haproxy.cfg:17: warning: "use_backend B if !admins": rdpbroker rules cannot negate an ACL (!admins)`,
		`haproxy.cfg:18: warning: "use_backend B unless office": rdpbroker rules cannot negate a condition`,
		`haproxy.cfg:19: warning: "use_backend B if beg || hdr": acl beg (line 14): -m beg (rdpbroker compares whole logins only)`,
		`haproxy.cfg:19: warning: "use_backend B if beg || hdr": acl hdr (line 15): sample fetch req.payload(0,4)`,
		`haproxy.cfg:22: warning: "option splice-auto": not translated`,
		`haproxy.cfg:24: warning: balance source: not translated: leastconn`,
		`haproxy.cfg:26: warning: server a2: no port (HAProxy used the port the client connected to): 3389`,
		`haproxy.cfg:26: warning: server a2: weight 0 (no new users) is not a weight in rdpbroker: weight 1`,
		`haproxy.cfg:27: warning: server a3 is backup (used only when every other server is down): rdpbroker has no such server: left out of pool A`,
		`haproxy.cfg:29: warning: server b1: send-proxy: rdpbroker does not send a PROXY header`,
		`haproxy.cfg:30: warning: server a1: the name is taken in pool A (rdpbroker server names are global): named B-a1`,
		`haproxy.cfg:31: warning: stick-table type ip: rdpbroker keys affinity by login`,
		`haproxy.cfg:32: warning: "stick on src": HAProxy stuck client addresses to servers`,
		"max_sessions: 500",
		"inspect_timeout: 5s",
		"connect_timeout: 5s",
		"no_cookie: reject",
		`logins: [alice, Bob]`,
		`networks: ["10.20.0.0/16"]`,
		`{name: b1, address: "10.0.2.1:3389", weight: 1, max_sessions: 40}`,
		"health: {check: tcp, interval: 9s, timeout: 5s, rise: 2, fall: 3}",
		"expire: 30m",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	if res.Pools != 2 || res.Servers != 4 || res.Rules != 2 {
		t.Errorf("pools %d servers %d rules %d; want 2 4 2", res.Pools, res.Servers, res.Rules)
	}
	// HAProxy ids: a1 has id 7, a2 takes 2, a3 (backup, left out) 3.
	var ids []string
	for _, s := range res.Backends["A"].Servers {
		ids = append(ids, s.HAProxyName+"="+string(rune('0'+s.ID))+":"+s.Name)
	}
	if got := strings.Join(ids, " "); got != "a1=7:a1 a2=2:a2 a3=3:" {
		t.Errorf("ids %s", got)
	}
	loadable(t, res, t.TempDir())
}

func TestTranslateErrors(t *testing.T) {
	for _, tc := range []struct{ name, cfg, want string }{
		{"no frontend", "backend b\n server s 10.0.0.1:3389\n", "no TCP frontend"},
		{"no default", "frontend f\n bind :3389\nbackend b\n server s 10.0.0.1:3389\n", "has no default_backend"},
		{"unknown acl", "frontend f\n bind :3389\n use_backend b if nope\n default_backend b\nbackend b\n server s 10.0.0.1:3389\n", `haproxy.cfg:3: cannot translate: unknown ACL "nope"`},
		{"missing file", "frontend f\n bind :3389\n acl g rdp_cookie(mstshash) -i -f /nonexistent/G\n default_backend b\nbackend b\n server s 10.0.0.1:3389\n", "haproxy.cfg:3: cannot translate: -f /nonexistent/G: file not found (copy the old server's files and give --acl-root)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("haproxy.cfg", []byte(tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Translate(cfg, Options{})
			if err == nil || !errors.Is(err, ErrTranslate) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want %q", err, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	cfg, err := Parse("h.cfg", []byte("global # comment\n  stats realm Haproxy\\ Statistics\n\n  x \"a b\" 'c\\d' e\\x41#tail\nfrontend  f1\n\tbind *:3389\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Sections[0].Directives
	if len(cfg.Sections) != 2 || cfg.Sections[1].Name != "f1" || cfg.Sections[1].Line != 5 {
		t.Fatalf("sections %+v", cfg.Sections)
	}
	if got := g[0].Words; len(got) != 3 || got[2] != "Haproxy Statistics" || g[0].Line != 2 {
		t.Errorf("escaped space: %q line %d", got, g[0].Line)
	}
	if got := strings.Join(g[1].Words, "|"); got != `x|a b|c\d|eA` {
		t.Errorf("quotes: %s", got)
	}
	for _, bad := range []string{"bind :3389\n", "global\n x \"open\n"} {
		if _, err := Parse("h.cfg", []byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestAssignIDs: HAProxy 2.6.12's numbering of these five servers, read
// from its `show servers state`: the counter moves past explicit ids too.
func TestAssignIDs(t *testing.T) {
	servers := []srvDecl{{opts: srvOpts{id: 7}}, {}, {}, {opts: srvOpts{id: 3}}, {}}
	got := assignIDs(servers)
	want := []int{7, 2, 4, 3, 6}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ids %v; want %v", got, want)
		}
	}
}
