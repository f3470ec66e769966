package appliance

import (
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/routing"
)

const learnedConfig = `
listen: 127.0.0.1:0
inspect_timeout: 500ms
connect_timeout: 1s
state_dir: "{{state_dir}}"
no_cookie: learned
learn_window: 10m
default_pool: general
pools:
  - name: sales
    health: {check: none}
    servers:
      - {name: ts01, address: "{{ts01}}"}
      - {name: ts02, address: "{{ts02}}"}
  - name: general
    health: {check: none}
    servers:
      - {name: ts03, address: "{{ts03}}"}
rules:
  - {name: sales-people, pool: sales, logins: [alice, bob]}
`

// TestLearnedNoCookie: a client that connected with a cookie and comes
// back from the same address without one lands on its affined server; two
// logins from one address send the cookieless request to the policy.
func TestLearnedNoCookie(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03")
	b := startBroker(t, writeConfig(t, learnedConfig, servers))

	// alice stays connected: leastconn would now send a new user of sales
	// to the other server.
	rdpFrom(t, "127.0.0.4", b.addr, cookieReq("alice", nil))
	home := whoSaw(servers, "alice")
	if len(home) != 1 || home[0] == "ts03" {
		t.Fatalf("alice went to %v", home)
	}
	rdpFrom(t, "127.0.0.4", b.addr, cookieReq("", nil))
	if got := whoSaw(servers, ""); !slices.Equal(got, home) {
		t.Errorf("alice without cookie went to %v, want her server %v (%s)", got, home, fmtSaw(servers))
	}

	// alice and bob from one address: the cookieless client gets the
	// no-cookie policy (the default pool).
	rdpFrom(t, "127.0.0.5", b.addr, cookieReq("alice", nil))
	rdpFrom(t, "127.0.0.5", b.addr, cookieReq("bob", nil))
	rdpFrom(t, "127.0.0.5", b.addr, cookieReq("", nil))
	if n := seenCookies(servers["ts03"])[""]; n != 1 {
		t.Errorf("ts03 saw %d cookieless clients, want 1 (%s)", n, fmtSaw(servers))
	}
	// An address that presented nothing: the policy too.
	rdpFrom(t, "127.0.0.6", b.addr, cookieReq("", nil))
	if n := seenCookies(servers["ts03"])[""]; n != 2 {
		t.Errorf("ts03 saw %d cookieless clients, want 2 (%s)", n, fmtSaw(servers))
	}
	want := map[string]uint64{routing.LearnedOne: 1, routing.LearnedAmbiguous: 1, routing.LearnedNone: 1}
	if got := b.LearnedOutcomes(); !maps.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	// The explanation (ctl route explain --from) shows the learned step.
	e := b.Router().Explain(routing.Request{Client: netip.MustParseAddr("127.0.0.4"), Now: time.Now()})
	if e.Learned == nil || e.Learned.Outcome != routing.LearnedOne || e.Learned.Login != "alice" || e.Server != home[0] {
		t.Errorf("explain: server %q learned %+v (%s)", e.Server, e.Learned, e.Why)
	}
}
