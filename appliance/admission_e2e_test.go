package appliance

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// dialFrom connects to addr from the loopback address src (127.0.0.0/8 is
// all local on Linux): a client of another source.
func dialFrom(t *testing.T, src, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// closedWithin reports whether the broker closes c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestFairAdmission: a source holds at most its share of the pending
// slots (more is refused as source_limit, held until inspect_timeout); when the slots are all
// taken, a client of another source gets the slot of the flood's oldest
// silent connection, which is closed at once (evicted), and is served.
func TestFairAdmission(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	cfg := strings.Replace(routedConfig, "inspect_timeout: 500ms",
		"inspect_timeout: 5s\nmax_pending: 4\nadmission: {max_pending_per_source: 3}", 1)
	b := startBroker(t, writeConfig(t, cfg, servers, "{{no_cookie}}", "default"))
	var flood []*net.TCPConn
	for range 3 {
		flood = append(flood, dialFrom(t, "127.0.0.5", b.addr))
		n := int64(len(flood))
		rdptest.Eventually(t, 2*time.Second, "flood connection pending", func() bool { return b.Pending() == n })
	}
	// The 4th of a source holding its share is refused, and held open
	// unread until inspect_timeout: a flood reconnecting on close comes
	// back at that pace.
	over := dialFrom(t, "127.0.0.5", b.addr)
	rdptest.Eventually(t, 2*time.Second, "source_limit counted", func() bool { return b.Counters().Rejected(RejectSourceLimit) == 1 })
	if closedWithin(over, 200*time.Millisecond) || b.counters.admission.Held() != 1 {
		t.Fatal("connection refused for its source's share not held")
	}
	dialFrom(t, "127.0.0.6", b.addr) // the last slot
	rdptest.Eventually(t, 2*time.Second, "4 pending", func() bool { return b.Pending() == 4 })

	start := time.Now()
	c, _, err := rdptest.Dial(b.addr, "alice", 2*time.Second) // from 127.0.0.1
	if err != nil {
		t.Fatalf("client of another source while the pending slots are full: %v\n%s", err, b.log.String())
	}
	c.Close()
	if took := time.Since(start); took > time.Second {
		t.Errorf("served after %v, want at once", took)
	}
	if !closedWithin(flood[0], time.Second) {
		t.Error("the flood's oldest connection was not closed")
	}
	for _, c := range flood[1:] {
		if closedWithin(c, 50*time.Millisecond) {
			t.Error("a newer flood connection was closed too")
		}
	}
	rdptest.Eventually(t, 2*time.Second, "eviction counted and logged", func() bool {
		return b.Counters().Rejected(RejectEvicted) == 1 && b.log.Count("reason=evicted") == 1
	})
	if n := b.Counters().Rejected(RejectLimit) + b.Counters().Rejected(RejectMalformed); n != 0 {
		t.Errorf("%d clients refused as limit or malformed, want 0", n)
	}
}

// TestPerSourceConnectionCap: admission.max_connections_per_source counts
// proxied sessions too; a session that ends gives its place back.
func TestPerSourceConnectionCap(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	cfg := strings.Replace(routedConfig, "inspect_timeout: 500ms",
		"inspect_timeout: 500ms\nadmission: {max_connections_per_source: 2}", 1)
	b := startBroker(t, writeConfig(t, cfg, servers, "{{no_cookie}}", "default"))
	var held []net.Conn
	for range 2 {
		c, _, err := rdptest.Dial(b.addr, "alice", 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	if _, _, err := rdptest.Dial(b.addr, "alice", 2*time.Second); err == nil {
		t.Fatal("third session of a source capped at 2 admitted")
	}
	rdptest.Eventually(t, 2*time.Second, "source_limit counted", func() bool { return b.Counters().Rejected(RejectSourceLimit) == 1 })
	held[0].Close()
	ok, why := rdptest.Poll(3*time.Second, func() (bool, string) {
		c, _, err := rdptest.Dial(b.addr, "alice", 2*time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
	if !ok {
		t.Fatalf("no session after one ended: %s", why)
	}
}
