package admission

import (
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"
)

type fakeConn struct{ name string }

func (c *fakeConn) Close() error { return nil }

var t0 = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// admit admits n connections from addr and returns them.
func admit(t *testing.T, g *Gate, addr string, n int, l Limits) []io.Closer {
	t.Helper()
	var out []io.Closer
	for i := range n {
		c := &fakeConn{fmt.Sprintf("%s#%d", addr, i)}
		if v, victim := g.Admit(t0, ip(addr), c, l); v != Admitted || victim != nil {
			t.Fatalf("%s: %v, victim %v; want admitted, no victim", c.name, v, victim)
		}
		out = append(out, c)
	}
	return out
}

func TestSourceShareOfPendingSlots(t *testing.T) {
	var g Gate
	l := Limits{MaxPending: 10, Config: Config{MaxPendingPerSource: 3}}
	a := admit(t, &g, "192.0.2.1", 3, l)
	if v, _ := g.Admit(t0, ip("192.0.2.1"), &fakeConn{"a4"}, l); v != SourcePending {
		t.Fatalf("4th from a source holding its share: %v, want %v", v, SourcePending)
	}
	admit(t, &g, "192.0.2.2", 3, l) // another source is not affected
	g.Done(a[0])                    // a first packet read: a slot back
	admit(t, &g, "192.0.2.1", 1, l)
	if p, c := g.SourceStats(ip("192.0.2.1")); p != 3 || c != 4 {
		t.Fatalf("source holds %d pending, %d connections; want 3 and 4", p, c)
	}
	for _, c := range a {
		g.Leave(c)
	}
	if p, c := g.SourceStats(ip("192.0.2.1")); p != 1 || c != 1 {
		t.Fatalf("after leaving: %d pending, %d connections; want 1 and 1", p, c)
	}
}

// TestFullPoolEvictsOldestOfTheBiggestSource: when every pending slot is
// taken, a newcomer from a small source gets the slot of the oldest
// pending connection of the biggest source; a newcomer from the biggest
// source is refused.
func TestFullPoolEvictsOldestOfTheBiggestSource(t *testing.T) {
	var g Gate
	l := Limits{MaxPending: 5, Config: Config{MaxPendingPerSource: 4}}
	flood := admit(t, &g, "198.51.100.7", 3, l)
	admit(t, &g, "192.0.2.1", 2, l)
	if v, victim := g.Admit(t0, ip("198.51.100.7"), &fakeConn{"flood#3"}, l); v != PendingFull || victim != nil {
		t.Fatalf("newcomer from the biggest source: %v, victim %v; want %v, none", v, victim, PendingFull)
	}
	if v, victim := g.Admit(t0, ip("192.0.2.1"), &fakeConn{"office#2"}, l); v != PendingFull || victim != nil {
		t.Fatalf("newcomer from a source that would become as big: %v, victim %v; want refused", v, victim)
	}
	v, victim := g.Admit(t0, ip("203.0.113.9"), &fakeConn{"user0"}, l)
	if v != Admitted || victim != flood[0] {
		t.Fatalf("newcomer from a third source: %v, victim %v; want admitted, victim %v", v, victim, flood[0])
	}
	// 2, 2 and 1: evicting would not make it fairer.
	if v, victim := g.Admit(t0, ip("203.0.113.9"), &fakeConn{"user1"}, l); v != PendingFull || victim != nil {
		t.Fatalf("second newcomer from the third source: %v, victim %v; want refused", v, victim)
	}
	if s := g.Stats(); s.Pending != 5 || s.Evicted != 1 || s.Connections != 6 {
		t.Fatalf("stats %+v, want 5 pending, 1 evicted, 6 connections", s)
	}
	g.Done(flood[0]) // the evicted connection's read fails: nothing to give back
	if s := g.Stats(); s.Pending != 5 {
		t.Fatalf("Done of an evicted connection changed pending: %+v", s)
	}
	// A fourth source: the next eviction takes the oldest of one of the
	// two holding 2.
	_, victim = g.Admit(t0, ip("198.51.100.8"), &fakeConn{"other"}, l)
	if name := victim.(*fakeConn).name; name != "198.51.100.7#1" && name != "192.0.2.1#0" {
		t.Fatalf("victim %s, want the oldest of a source holding 2", name)
	}
}

func TestSourceOfGroupsIPv6By64(t *testing.T) {
	same := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"},
		{"192.0.2.1", "::ffff:192.0.2.1"},
	}
	for _, p := range same {
		if SourceOf(ip(p[0])) != SourceOf(ip(p[1])) {
			t.Errorf("%s and %s are different sources, want one", p[0], p[1])
		}
	}
	differ := [][2]string{{"2001:db8:1:2::1", "2001:db8:1:3::1"}, {"192.0.2.1", "192.0.2.2"}}
	for _, p := range differ {
		if SourceOf(ip(p[0])) == SourceOf(ip(p[1])) {
			t.Errorf("%s and %s are one source, want two", p[0], p[1])
		}
	}
	var g Gate
	l := Limits{MaxPending: 10, Config: Config{MaxPendingPerSource: 2}}
	admit(t, &g, "2001:db8:1:2::1", 1, l)
	admit(t, &g, "2001:db8:1:2::2", 1, l)
	if v, _ := g.Admit(t0, ip("2001:db8:1:2::3"), &fakeConn{"third"}, l); v != SourcePending {
		t.Fatalf("third address of one /64: %v, want %v", v, SourcePending)
	}
}

func TestRatePerSource(t *testing.T) {
	var g Gate
	l := Limits{MaxPending: 100, Config: Config{MaxPendingPerSource: 100, RatePerSource: 2, BurstPerSource: 3}}
	now := t0
	try := func(addr string) Verdict {
		v, _ := g.Admit(now, ip(addr), &fakeConn{}, l)
		return v
	}
	for i := range 3 {
		if v := try("192.0.2.1"); v != Admitted {
			t.Fatalf("burst connection %d: %v", i, v)
		}
	}
	if v := try("192.0.2.1"); v != SourceRate {
		t.Fatalf("over the burst: %v, want %v", v, SourceRate)
	}
	if v := try("192.0.2.2"); v != Admitted {
		t.Fatalf("another source: %v", v)
	}
	now = now.Add(500 * time.Millisecond) // one token back at 2/s
	if try("192.0.2.1") != Admitted || try("192.0.2.1") != SourceRate {
		t.Fatal("after 500ms at 2/s: want exactly one more connection")
	}
}

func TestMaxConnectionsPerSource(t *testing.T) {
	var g Gate
	l := Limits{MaxPending: 100, Config: Config{MaxPendingPerSource: 100, MaxConnectionsPerSource: 2}}
	cs := admit(t, &g, "192.0.2.1", 2, l)
	g.Done(cs[0])
	g.Done(cs[1]) // proxied now: still counted
	if v, _ := g.Admit(t0, ip("192.0.2.1"), &fakeConn{}, l); v != SourceConnections {
		t.Fatalf("third connection: %v, want %v", v, SourceConnections)
	}
	g.Leave(cs[0])
	admit(t, &g, "192.0.2.1", 1, l)
}

// TestSweepForgetsIdleSources: sources kept for their token bucket are
// forgotten once it is full again, so spoofed-looking variety cannot grow
// the map without bound.
func TestSweepForgetsIdleSources(t *testing.T) {
	var g Gate
	l := Limits{MaxPending: 10, Config: Config{MaxPendingPerSource: 10, RatePerSource: 1}}
	for i := range sweepEvery - 1 {
		addr := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		c := &fakeConn{}
		if v, _ := g.Admit(t0, addr, c, l); v != Admitted {
			t.Fatal(v)
		}
		g.Leave(c)
	}
	if n := g.Stats().Sources; n != sweepEvery-1 {
		t.Fatalf("%d sources remembered, want %d (their buckets are not full)", n, sweepEvery-1)
	}
	g.Admit(t0.Add(time.Minute), ip("192.0.2.1"), &fakeConn{}, l)
	if n := g.Stats().Sources; n != 1 {
		t.Fatalf("%d sources after a sweep a minute later, want 1", n)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{MaxPendingPerSource: 0, RatePerSource: -1, MaxConnectionsPerSource: -1},
			"max_pending_per_source: 0: must be > 0\nrate_per_source: -1: must be >= 0\nmax_connections_per_source: -1: must be >= 0"},
		{Config{MaxPendingPerSource: 1, BurstPerSource: 2}, "burst_per_source: set without rate_per_source"},
		{Config{MaxPendingPerSource: 1, RatePerSource: 1, BurstPerSource: -1}, "burst_per_source: -1: must be >= 0"},
	} {
		if err := tc.c.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("Validate(%+v) = %v\nwant %s", tc.c, err, tc.want)
		}
	}
}

type closeRecorder struct {
	at chan time.Time
}

func (c *closeRecorder) Close() error { c.at <- time.Now(); return nil }

// TestHoldClosesAtDeadline: held connections are closed at their deadline,
// not before; beyond max, Hold refuses and the caller closes.
func TestHoldClosesAtDeadline(t *testing.T) {
	var g Gate
	start := time.Now()
	a, b := &closeRecorder{make(chan time.Time, 1)}, &closeRecorder{make(chan time.Time, 1)}
	if !g.Hold(a, start.Add(100*time.Millisecond), 2) || !g.Hold(b, start.Add(200*time.Millisecond), 2) {
		t.Fatal("Hold refused below max")
	}
	if g.Hold(&closeRecorder{}, start.Add(time.Second), 2) {
		t.Fatal("Hold took a third with max 2")
	}
	if n := g.Held(); n != 2 {
		t.Fatalf("Held = %d, want 2", n)
	}
	for i, c := range []*closeRecorder{a, b} {
		select {
		case at := <-c.at:
			if want := start.Add(time.Duration(i+1) * 100 * time.Millisecond); at.Before(want) {
				t.Errorf("connection %d closed at +%v, before its deadline +%v", i, at.Sub(start), want.Sub(start))
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("connection %d not closed", i)
		}
	}
	if n := g.Held(); n != 0 {
		t.Fatalf("Held = %d after the deadlines, want 0", n)
	}
}
