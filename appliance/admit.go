package appliance

import (
	"fmt"
	"net"
	"net/netip"
)

// admit is the first stage: a client may hold one of max_pending slots
// while it sends its first packet. Beyond it the client is closed at once,
// so a flood of silent connections cannot exhaust descriptors.
func (c *conn) admit() *refusal {
	if n := c.b.pending.Add(1); n > int64(c.cfg.MaxPending) {
		c.b.pending.Add(-1)
		// Quiet: under a flood a line per refused client would flood the log.
		return &refusal{reason: RejectLimit, quiet: true,
			err: fmt.Errorf("max_pending reached: %d", c.cfg.MaxPending)}
	}
	return nil
}

// acquireGlobal reserves a slot under max (sessionLimit; 0 = unlimited).
func (b *Broker) acquireGlobal(max int) bool {
	for {
		n := b.counters.Active.Load()
		if max > 0 && n >= int64(max) {
			return false
		}
		if b.counters.Active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func clientAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
