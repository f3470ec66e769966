package main

// The real-RDP end-to-end test: FreeRDP (xfreerdp) -> the rdpbroker
// binary -> real xrdp servers, all on loopback. Runs when
// RDPBROKER_E2E_REAL=1 (make test); scripts/install-test-deps.sh installs
// the Debian packages. Harness: realrdp_test.go.
//
// Which server did a connection reach? The test asks the servers, not the
// broker: every xrdp instance has its own log file with one "connection
// received" line per accepted TCP connection. Clients connect one at a
// time and the test keeps a ledger of how many connections each instance
// must have accepted so far: after each login exactly the expected instance
// has one more, and any stray connection (a retry on the wrong server, a
// probe) shows up as a mismatch at the next check.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

func TestRealRDPThroughBroker(t *testing.T) {
	tools := requireRealRDP(t)
	checkLeftovers(t)
	start := time.Now()
	waitBuild := buildBroker(t.TempDir()) // overlaps with starting xrdp
	t.Cleanup(func() { waitBuild() })     // before its directory goes, on every path
	cert, key := writeTestCert(t, t.TempDir())
	ts01 := startXRDP(t, tools, "ts01", cert, key)
	ts02 := startXRDP(t, tools, "ts02", cert, key)
	client := newRDPClient(t, tools)
	led := newLedger(ts01, ts02)

	t.Run("direct control: xfreerdp to xrdp ts01", func(t *testing.T) {
		// Proves the harness: the client, the server and the counting work
		// without the broker.
		led.expect(t, ts01, func() (string, error) { return client.login(t, ts01.addr(), "/u:alice") })
	})
	if t.Failed() {
		t.Fatal("the harness itself does not work (see direct control); not testing the broker")
	}

	bin, err := waitBuild()
	if err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	broker := startBroker(t, bin, "broker", func(listen string) string {
		return fmt.Sprintf(`listen: %s
inspect_timeout: 2s
state_dir: %q
no_cookie: default
default_pool: general
pools:
  - name: general
    balance: leastconn
    health: {check: none}
    servers:
      - {name: ts01, address: %s, weight: 10}
  - name: sales
    balance: leastconn
    health: {check: none}
    servers:
      - {name: ts02, address: %s, weight: 10}
rules:
  - {pool: sales, logins: [alice, bob]}
  - {pool: sales, collection: Sales}
`, listen, stateDir, ts01.addr(), ts02.addr())
	})
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", broker.port)

	// what the broker's session line for each login must say.
	type sessionWant map[string]string
	cases := []struct {
		name    string
		args    []string
		want    *xrdpServer
		session sessionWant
	}{
		{"alice by login to sales ts02", []string{"/u:alice"}, ts02,
			sessionWant{"cookie": "alice", "login": "alice", "rule": "rules[0]", "pool": "sales", "server": "ts02"}},
		{"carol unmatched to default pool ts01", []string{"/u:carol"}, ts01,
			sessionWant{"cookie": "carol", "pool": "general", "server": "ts01"}},
		// xfreerdp strips the domain: the cookie is "bob".
		{`CORP\bob by login to sales ts02`, []string{`/u:CORP\bob`}, ts02,
			sessionWant{"cookie": "bob", "pool": "sales", "server": "ts02"}},
		{"dave UPN unmatched to default pool ts01", []string{"/u:dave@corp.example.test"}, ts01,
			sessionWant{"cookie": "dave@corp.example.test", "pool": "general", "server": "ts01"}},
		// With /load-balance-info xfreerdp sends the routing token and no
		// cookie. One argv element, no quotes: quotes would be sent too.
		{"tsv token Sales without cookie to sales ts02",
			[]string{"/u:zed", "/load-balance-info:tsv://MS Terminal Services Plugin.1.Sales"}, ts02,
			sessionWant{"cookie": "", "token": "tsv://MS Terminal Services Plugin.1.Sales", "pool": "sales", "server": "ts02"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			led.expect(t, tc.want, func() (string, error) { return client.login(t, brokerAddr, tc.args...) })
			if t.Failed() {
				t.Logf("broker log:\n%s", tail(broker.log(), 20))
			}
		})
	}

	// The broker's rdp health check against a real xrdp. Pool general: a
	// dead loopback port (listed first) and the live ts01; retries 0, so a
	// login sent to the dead server fails instead of being retried.
	// Asserted, in this order:
	//  1. the dead server is reported down (bounded poll on the log);
	//  2. every login exits 0 and reached ts01: its count of clients that
	//     got to the MCS stage grows by exactly the number of logins
	//     (probes never get that far, so they do not disturb this count,
	//     unlike "connection received");
	//  3. the broker never tried the dead server (no "server connect
	//     failed", no "rejected") and never took ts01 down;
	//  4. the probes really reached xrdp as RDP: xrdp logged X.224 requests
	//     asking for HYBRID_EX, which only the broker's probe sends.
	// Not asserted: how many probes ran or when (timing).
	// Started here, after the ledger's last login (its probes reach ts01),
	// and stopped with the test: its sessions end when ts01 stops.
	const healthLogins = 3
	dead := rdptest.FreePort(t) // closed again: nothing listens there
	healthStateDir := t.TempDir()
	healthBroker := startBroker(t, bin, "broker-health", func(listen string) string {
		return fmt.Sprintf(`listen: %s
inspect_timeout: 2s
state_dir: %q
no_cookie: default
default_pool: general
retries: 0
pools:
  - name: general
    balance: leastconn
    health: {check: rdp, interval: 500ms, timeout: 1s, rise: 1, fall: 1}
    servers:
      - {name: ts09, address: 127.0.0.1:%d, weight: 10}
      - {name: ts01, address: %s, weight: 10}
`, listen, healthStateDir, dead, ts01.addr())
	})
	t.Run("health check rdp against real xrdp", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", healthBroker.port)
		if ok, _ := rdptest.Poll(logTimeout, func() (bool, string) {
			return hasLogLine(healthBroker.log(), "server down", map[string]string{"server": "ts09"}), ""
		}); !ok {
			t.Fatalf("the dead server ts09 was not reported down within %v; broker log:\n%s", logTimeout, tail(healthBroker.log(), 20))
		}
		clients, probes := ts01.clients(), ts01.probes()
		for i := 1; i <= healthLogins; i++ {
			if out, err := client.login(t, addr, fmt.Sprintf("/u:health%d", i)); err != nil {
				t.Errorf("login %d through the health-checking broker: %v\n%s", i, err, tail(out, 40))
			}
		}
		want := clients + healthLogins
		if ok, why := rdptest.Poll(logTimeout, func() (bool, string) {
			n := ts01.clients()
			return n >= want, fmt.Sprintf("ts01 has %d clients, want %d", n, want)
		}); !ok || ts01.clients() != want {
			t.Errorf("logins did not all reach ts01: %s (now %d)", why, ts01.clients())
		}
		if ok, _ := rdptest.Poll(logTimeout, func() (bool, string) { return ts01.probes() > probes, "" }); !ok {
			t.Errorf("no rdp probe (X.224 request for HYBRID_EX) reached ts01 within %v", logTimeout)
		}
		log := healthBroker.log()
		if hasLogLine(log, "server down", map[string]string{"server": "ts01"}) {
			t.Errorf("the broker took the live xrdp ts01 down")
		}
		for _, msg := range []string{"server connect failed", "rejected"} {
			if lines := logLines(log, msg); len(lines) > 0 {
				t.Errorf("broker logged %d %q lines, e.g. %v", len(lines), msg, lines[0])
			}
		}
		if t.Failed() {
			t.Logf("health broker log:\n%s", tail(log, 30))
		}
	})

	// The session lines. The broker logs a session when both sides have
	// ended. xrdp without sesman does not close its side when the client
	// leaves through the broker (it waits for sesman and ignores the FIN
	// the broker forwards), so the sessions end when the servers stop.
	t.Run("broker session lines", func(t *testing.T) {
		ts01.proc.stop()
		ts02.proc.stop()
		var sessions []map[string]string
		if ok, why := rdptest.Poll(logTimeout, func() (bool, string) {
			sessions = logLines(broker.log(), "session")
			return len(sessions) >= len(cases), fmt.Sprintf("%d session lines, want %d", len(sessions), len(cases))
		}); !ok {
			t.Errorf("broker: %s", why)
		}
		if len(sessions) != len(cases) {
			t.Errorf("broker logged %d sessions, want %d", len(sessions), len(cases))
		}
		for _, tc := range cases {
			key := map[string]string{"cookie": tc.session["cookie"]}
			if tok, ok := tc.session["token"]; ok {
				key["token"] = tok
			}
			var found []map[string]string
			for _, s := range sessions {
				if matches(s, key) {
					found = append(found, s)
				}
			}
			if len(found) != 1 {
				t.Errorf("%s: %d session lines with %v, want 1", tc.name, len(found), key)
				continue
			}
			if !matches(found[0], tc.session) {
				t.Errorf("%s: session line %v, want %v", tc.name, found[0], tc.session)
			}
		}
		var hs []map[string]string
		rdptest.Poll(logTimeout, func() (bool, string) {
			hs = logLines(healthBroker.log(), "session")
			return len(hs) >= healthLogins, ""
		})
		if len(hs) != healthLogins {
			t.Errorf("health broker logged %d sessions, want %d", len(hs), healthLogins)
		}
		for _, s := range hs {
			if !matches(s, map[string]string{"server": "ts01", "tries": "1"}) {
				t.Errorf("health broker session %v, want server=ts01 tries=1", s)
			}
		}
		if t.Failed() {
			t.Logf("broker log:\n%s", tail(broker.log(), 30))
		}
	})
	t.Run("brokers stop on SIGTERM", func(t *testing.T) {
		// No session is left (the servers are gone): a clean exit 0, and no
		// data race reported by a -race build.
		for _, b := range []*brokerProc{broker, healthBroker} {
			b.proc.stop()
			switch log := b.log(); {
			case b.proc.killed:
				t.Errorf("%s ignored SIGTERM for %v; log:\n%s", b.proc.name, stopTimeout, tail(log, 20))
			case b.proc.waitErr != nil:
				t.Errorf("%s: %v; log:\n%s", b.proc.name, b.proc.waitErr, tail(log, 20))
			case strings.Contains(log, "WARNING: DATA RACE"):
				t.Errorf("%s reported a data race:\n%s", b.proc.name, log)
			}
		}
	})
	t.Logf("%d xfreerdp runs, %v in all", client.runs, time.Since(start).Round(100*time.Millisecond))
}

// ledger is how many connections each xrdp instance must have accepted.
type ledger struct {
	servers []*xrdpServer
	want    map[*xrdpServer]int
}

func newLedger(servers ...*xrdpServer) *ledger {
	l := &ledger{servers: servers, want: map[*xrdpServer]int{}}
	l.resync()
	return l
}

func (l *ledger) resync() {
	for _, s := range l.servers {
		l.want[s] = s.connections()
	}
}

// diff describes how the servers' counts differ from the ledger ("" when
// they agree).
func (l *ledger) diff() string {
	var d []string
	for _, s := range l.servers {
		if n := s.connections(); n != l.want[s] {
			d = append(d, fmt.Sprintf("%s accepted %d connections, want %d", s.name, n, l.want[s]))
		}
	}
	return strings.Join(d, "; ")
}

// expect runs one login, which must exit 0 and reach target: target's
// count grows by exactly one and no other server's count moves.
func (l *ledger) expect(t *testing.T, target *xrdpServer, login func() (string, error)) {
	t.Helper()
	if d := l.diff(); d != "" {
		t.Errorf("before the login, stray connections: %s", d)
		l.resync()
	}
	out, err := login()
	if err != nil {
		t.Errorf("xfreerdp: %v\n%s", err, tail(out, 40))
		for _, s := range l.servers {
			t.Logf("xrdp %s log:\n%s", s.name, tail(s.log(), 15))
		}
	}
	l.want[target]++
	ok, why := rdptest.Poll(logTimeout, func() (bool, string) {
		n := target.connections()
		return n >= l.want[target], fmt.Sprintf("%s accepted %d connections, want %d", target.name, n, l.want[target])
	})
	if !ok {
		t.Errorf("the connection did not reach %s: %s", target.name, why)
	}
	if d := l.diff(); d != "" {
		t.Errorf("after the login: %s", d)
		l.resync()
	}
}
