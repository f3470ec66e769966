package relay

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// keepIdle returns whether c has SO_KEEPALIVE on, and its TCP_KEEPIDLE.
func keepIdle(t *testing.T, c *net.TCPConn) (on bool, idle int) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ka int
	rc.Control(func(fd uintptr) {
		ka, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		idle, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
	})
	return ka != 0, idle
}

// TestKeepalivesApplyWhenDue: connections added get their settings
// KeepaliveDelay later, not before; a stopped entry is left alone; added
// later, applied later (the timer re-arms).
func TestKeepalivesApplyWhenDue(t *testing.T) {
	var ks Keepalives
	cfg := KeepaliveConfig{Idle: 77 * time.Second, Interval: 5 * time.Second, Count: 3}
	a, b := pair(t)
	c, d := pair(t)
	start := time.Now()
	ka := ks.Add(cfg, a, b)
	stopped := ks.Add(cfg, c)
	stopped.Stop()
	if _, idle := keepIdle(t, a); idle == 77 { // pair's sockets have Go's default keep-alive (15 s)
		t.Fatal("keep-alive set at once")
	}
	rdptest.Eventually(t, 3*time.Second, "keep-alive on both connections", func() bool {
		onA, idleA := keepIdle(t, a)
		onB, idleB := keepIdle(t, b)
		return onA && onB && idleA == 77 && idleB == 77
	})
	if took := time.Since(start); took < KeepaliveDelay-50*time.Millisecond {
		t.Fatalf("applied after %v, before KeepaliveDelay", took)
	}
	ka.Stop() // after it was applied: harmless
	if _, idle := keepIdle(t, c); idle == 77 {
		t.Fatal("a stopped entry was applied")
	}
	ks.Add(cfg, d)
	rdptest.Eventually(t, 3*time.Second, "keep-alive on a connection added after the first round", func() bool {
		_, idle := keepIdle(t, d)
		return idle == 77
	})
	var off Keepalives
	if k := off.Add(KeepaliveConfig{Idle: -1}, a); k != nil {
		t.Fatal("disabled keep-alive returned an entry")
	}
	(*Keepalive)(nil).Stop()
}
