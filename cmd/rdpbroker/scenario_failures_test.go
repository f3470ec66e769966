package main

// Steps 7-9 of the administrator's scenario (scenario_e2e_test.go): what
// fails around the brokers, a terminal server, the directory, clients;
// then the end of the scenario.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// Step 7: alice's accounting server stops. Once broker 2 sees it down,
// its users are refused (they would lose their session elsewhere) until
// down_grace has passed, then placed on the other accounting server.
// `ctl servers` and the status page show it down.
func (s *scenario) stepServerDown(t *testing.T) {
	e := s.ctlEnv(t)
	x := s.placed["alice"]
	if x == "" {
		t.Fatal("alice has no placement (step 1 failed)")
	}
	y := otherOf(x)
	var onX []string
	for _, u := range s.users() {
		if s.placed[u] == x {
			onX = append(onX, u)
		}
	}
	before := s.rejects(e, s.b2)["affinity_down"]
	s.servers[x].proc.stop()
	rdptest.EventuallyWhy(t, logTimeout, func() string {
		if h := e.server(s.b2.sock, x).Health; h != "down" {
			return fmt.Sprintf("broker 2: %s health %q, want down", x, h)
		}
		return ""
	})
	downAt := time.Now()
	s.expectRefused(t, s.b2, "alice")
	if refusedAt := time.Since(downAt); refusedAt > scenarioDownGrace {
		t.Errorf("the refused login ended %v after the server was seen down, past down_grace %v: too slow to tell", refusedAt, scenarioDownGrace)
	}
	if got := s.rejects(e, s.b2)["affinity_down"]; got != before+1 {
		t.Errorf("broker 2 counted %d affinity_down refusals, want %d", got, before+1)
	}
	table := e.ok(s.b2.sock, "servers", "accounting")
	if !regexp.MustCompile(`(?m)^accounting\s+` + x + `\s.*\sdown\b`).MatchString(table) {
		t.Errorf("ctl servers accounting does not show %s down:\n%s", x, table)
	}
	if page := s.get(t, s.b2, "/"); !strings.Contains(page, `<tr class="s-down" id="server-`+x+`">`) {
		t.Errorf("the status page does not show %s down (no <tr class=\"s-down\" id=\"server-%s\">)", x, x)
	}
	// Past down_grace: explain says when; then every user of x moves.
	rdptest.EventuallyWhy(t, scenarioDownGrace+logTimeout, func() string {
		if got := s.explain(e, s.b2, "alice"); got.Refused != "" || got.Server != y {
			return fmt.Sprintf("alice on broker 2 still refused or not on %s: %q %q", y, got.Refused, got.Server)
		}
		return ""
	})
	for _, u := range onX {
		if got := s.expectPool(t, s.b2, u, "accounting"); got != "" && got != y {
			t.Errorf("%s after down_grace: reached %s, want %s", u, got, y)
		}
	}
}

// Step 8: the DC stops. A sync fails and keeps the last good membership:
// judy, in Accounting but never seen before, still routes to accounting;
// rdpbroker_directory_sync_age_seconds grows.
func (s *scenario) stepADDown(t *testing.T) {
	if s.lastSync.IsZero() {
		t.Fatal("no directory sync known to have succeeded (step 2 failed)")
	}
	e := s.ctlEnv(t)
	errs0 := metric(t, s.metrics(t, s.b2), "rdpbroker_directory_sync_errors_total")
	if err := s.dc.Stop(); err != nil {
		t.Fatalf("stop the DC: %v", err)
	}
	out, errOut, code := e.ctl(s.b2.sock, "sync", "now")
	if code != 1 || !strings.Contains(out, "keeping the previous membership") {
		t.Errorf("ctl sync now with AD down: exit %d, want 1 and the previous membership kept\n%s%s", code, out, errOut)
	}
	// Taken before the scrape: the broker's sync ended before lastSync and
	// the scrape comes after this, so its age can only be larger.
	since := time.Since(s.lastSync).Seconds()
	m := s.metrics(t, s.b2)
	age1 := metric(t, m, "rdpbroker_directory_sync_age_seconds")
	if errs := metric(t, m, "rdpbroker_directory_sync_errors_total"); errs <= errs0 {
		t.Errorf("rdpbroker_directory_sync_errors_total %v after a failed sync, was %v", errs, errs0)
	}
	if age1 < since {
		t.Errorf("rdpbroker_directory_sync_age_seconds %v, but the last good sync ended %.1fs ago", age1, since)
	}
	if got := s.expectPool(t, s.b2, "judy", "accounting"); got == "" {
		t.Logf("judy: no placement")
	}
	s.expectSame(t, s.b2, "carol")
	if x := s.explain(e, s.b2, "judy"); x.Rule != "accounting" {
		t.Errorf("ctl route explain judy with AD down: rule %q, want accounting", x.Rule)
	}
	if age2 := metric(t, s.metrics(t, s.b2), "rdpbroker_directory_sync_age_seconds"); age2 <= age1 {
		t.Errorf("rdpbroker_directory_sync_age_seconds did not grow: %v then %v", age1, age2)
	}
}

// Step 9: a client sends garbage, one a TLS ClientHello, one an msts
// routing token naming a host that is not a configured server (it listens:
// it must never be dialled). Each is refused and counted by its reason;
// carol's connection, opened before them, completes its TLS handshake with
// her server after them, and a new login lands as before.
func (s *scenario) stepBadClients(t *testing.T) {
	e := s.ctlEnv(t)
	rogue, dialled := listenCounting(t)
	c := s.openSession(t, s.b2, "carol")
	defer c.Close()
	before := s.rejects(e, s.b2)
	m0 := s.metrics(t, s.b2)

	refusedGarbage(t, s.b2.addr(), []byte("GET / HTTP/1.1\r\nHost: rdp\r\n\r\n"))
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.b2.addr(), &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		tc.Close()
		t.Errorf("a TLS ClientHello to broker 2 got a TLS server")
	}
	req := rdp.ConnRequest{HasNegReq: true, RequestedProtocols: rdptest.ClientProtocols,
		Token: rdp.RoutingToken{Kind: rdp.TokenMSTS, Addr: rogue}}
	if c2, _, err := rdptest.DialRequest(s.b2.addr(), req, 5*time.Second); err == nil {
		c2.Close()
		t.Errorf("an msts token naming %s (not configured) got a Connection Confirm", rogue)
	}

	want := map[string]uint64{"malformed": 1, "tls": 1, "token_refused": 1}
	rdptest.EventuallyWhy(t, logTimeout, func() string {
		after := s.rejects(e, s.b2)
		for reason, n := range after {
			if n-before[reason] != want[reason] {
				return fmt.Sprintf("ctl status rejects: %s went from %d to %d, want +%d", reason, before[reason], n, want[reason])
			}
		}
		return ""
	})
	m1 := s.metrics(t, s.b2)
	for reason, n := range want {
		series := `rdpbroker_rejects_total{reason="` + reason + `"}`
		if d := metric(t, m1, series) - m0[series]; d != float64(n) {
			t.Errorf("/metrics %s grew by %v, want %d", series, d, n)
		}
	}
	time.Sleep(500 * time.Millisecond) // an absence: nothing dials the rogue host later
	if n := dialled.Load(); n != 0 {
		t.Errorf("the host the msts token named (%s, not configured) was dialled %d times", rogue, n)
	}
	if got := s.finishTLS(t, c); got != s.placed["carol"] {
		t.Errorf("carol's connection did its TLS handshake with %s, want %s", got, s.placed["carol"])
	}
	s.expectSame(t, s.b2, "erin")
}

// refusedGarbage sends b to addr and expects the broker to close the
// connection without a byte.
func refusedGarbage(t *testing.T, addr string, b []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatalf("garbage to %s: %v", addr, err)
	}
	// Closed with the garbage unread, the socket sends a reset: as good
	// as a FIN here.
	if got, err := io.ReadAll(c); len(got) > 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
		t.Errorf("garbage to %s: got %q (%v), want the connection closed without a byte", addr, got, err)
	}
}

// listenCounting listens on a free loopback port and counts the
// connections it accepts (closing them at once).
func listenCounting(t *testing.T) (netip.AddrPort, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort(), &n
}

// stepStopCleanly stops broker 2 (SIGTERM) and checks that no broker
// process, broker 1's upgraded one included, reported a data race or a
// recovered panic.
func (s *scenario) stepStopCleanly(t *testing.T) {
	s.stopBroker(t, s.b2)
	for _, n := range []*node{s.b1, s.b2} {
		for _, p := range n.history {
			log := p.log()
			for _, bad := range []string{"WARNING: DATA RACE", "panic while handling a client", "goroutine "} {
				if strings.Contains(log, bad) {
					t.Errorf("%s logged %q:\n%s", p.proc.name, bad, tail(log, 40))
				}
			}
		}
	}
}
