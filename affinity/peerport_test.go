package affinity

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// startAlone starts replication of a fresh table on a free loopback port
// with members (the node itself, say), logging into logs.
func startAlone(t *testing.T, logs *rdptest.LogBuffer, members func(self string) []string) (*Replicator, string) {
	t.Helper()
	dir := t.TempDir()
	tb, err := Open(filepath.Join(dir, "a.db"), DefaultConfig(), Options{Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	pc := DefaultPeersConfig()
	pc.Listen = rdptest.FreeTCPUDPAddr(t)
	pc.Members = members(pc.Listen)
	pc.SecretFile = writeSecret(t, dir, "secret", 7)
	pc.MaxConnections = 4
	r, err := StartReplication(context.Background(), tb, pc, logs.Logger(slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, pc.Listen
}

func dialFrom(t *testing.T, network, src, addr string) net.Conn {
	t.Helper()
	var local net.Addr = &net.TCPAddr{IP: net.ParseIP(src)}
	if network == "udp" {
		local = &net.UDPAddr{IP: net.ParseIP(src)}
	}
	c, err := (&net.Dialer{LocalAddr: local, Timeout: 2 * time.Second}).Dial(network, addr)
	if err != nil {
		t.Fatalf("dial %s %s from %s: %v", network, addr, src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedAtOnce reports whether the peer closes c within d.
func closedAtOnce(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	ne, ok := err.(net.Error)
	return err != nil && !(ok && ne.Timeout())
}

// TestPeerPortDropsNonMembers: datagrams and connections from an address
// that is no member are dropped without a log line each; garbage from a
// member's address is logged a bounded number of times; inbound
// connections beyond peers.max_connections are closed at once.
func TestPeerPortDropsNonMembers(t *testing.T) {
	var logs rdptest.LogBuffer
	r, addr := startAlone(t, &logs, func(self string) []string { return []string{self} }) // 127.0.0.1
	garbage := []byte("\x01not a memberlist packet at all")

	stranger := dialFrom(t, "udp", "127.0.0.9", addr)
	member := dialFrom(t, "udp", "127.0.0.1", addr)
	for range 2000 {
		stranger.Write(garbage)
		member.Write(garbage)
	}
	rdptest.Eventually(t, 5*time.Second, "datagrams from a stranger dropped", func() bool {
		return r.PortStats().DatagramsFromNonMembers > 1000
	})
	if n := logs.Count("127.0.0.9"); n != 0 {
		t.Errorf("%d log lines name the stranger, want 0", n)
	}
	if n := logs.Count("affinity: memberlist"); n == 0 || n > 2*mlogBurst {
		t.Errorf("%d memberlist lines for 2,000 bad datagrams from a member, want 1..%d\n%s", n, 2*mlogBurst, logs.String())
	}

	for range 5 {
		if c := dialFrom(t, "tcp", "127.0.0.9", addr); !closedAtOnce(c, time.Second) {
			t.Fatal("connection from a stranger not closed at once")
		}
	}
	held := 0
	for range 10 {
		if c := dialFrom(t, "tcp", "127.0.0.1", addr); !closedAtOnce(c, 100*time.Millisecond) {
			held++
		}
	}
	if held != 4 {
		t.Errorf("%d silent connections from a member held, want max_connections = 4", held)
	}
	if s := r.PortStats(); s.ConnectionsFromNonMembers != 5 || s.ConnectionsOverCap != 6 {
		t.Errorf("stats %+v, want 5 from non-members, 6 over the cap", s)
	}
}

// TestGuardSummarisesDrops: what the guard drops is logged as one line
// per period, not one per datagram.
func TestGuardSummarisesDrops(t *testing.T) {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, BindPort: 0})
	if err != nil {
		t.Fatal(err)
	}
	var logs rdptest.LogBuffer
	g := newGuard(nt, func(a netip.Addr) bool { return false }, 1, logs.Logger(slog.LevelInfo), 100*time.Millisecond)
	defer g.Shutdown()
	c := dialFrom(t, "udp", "127.0.0.1", net.JoinHostPort("127.0.0.1", strconv.Itoa(nt.GetAutoBindPort())))
	for range 500 {
		c.Write([]byte("x"))
	}
	rdptest.Eventually(t, 3*time.Second, "the summary", func() bool {
		return logs.Count("peer port: dropped traffic") >= 1
	})
	if n := logs.Count("peer port"); n > 3 || !strings.Contains(logs.String(), "datagrams_from_non_members=") {
		t.Errorf("%d summary lines for 500 datagrams\n%s", n, logs.String())
	}
}
