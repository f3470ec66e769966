package appliance

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"

	"github.com/rdpbroker/rdpbroker/appliance/admission"
)

// admit is the first stage: a client holds one of max_pending slots while
// it sends its first packet, and its source (IPv4 address, IPv6 /64) at
// most admission.max_pending_per_source of them. When all slots are taken,
// the oldest pending client of the source holding the most is closed to
// make room (its read fails: "evicted"); a client of that source itself is
// closed at once ("limit"), so a flood of silent connections from one
// address neither exhausts descriptors nor locks out other addresses.
// See appliance/admission.
func (c *conn) admit() *refusal {
	v, victim := c.b.counters.admission.Admit(c.start, clientAddr(c.client), c.client,
		admission.Limits{MaxPending: c.cfg.MaxPending, Config: c.cfg.Admission})
	if victim != nil {
		victim.Close() // its pending read fails at once: counted as evicted
	}
	switch v {
	case admission.Admitted:
		c.b.pending.Add(1)
		return nil
	case admission.PendingFull:
		return &refusal{reason: RejectLimit, err: fmt.Errorf("max_pending reached: %d", c.cfg.MaxPending)}
	}
	// Refused for its source's sake: held open (a tarpit) for holdFor to
	// twice holdFor inspect_timeouts (spread, so a flood's connections do
	// not all come back at once): a flood reconnecting on close comes back
	// at that pace, and every reconnect costs the broker an accept and a
	// close on the cores real clients need.
	hold := holdFor * c.cfg.InspectTimeout
	hold += rand.N(hold)
	held := c.b.counters.admission.Hold(c.client, c.start.Add(hold), c.b.holdLimit(c.cfg))
	return &refusal{reason: RejectSourceLimit, held: held,
		err: fmt.Errorf("source %s: %v", admission.SourceOf(clientAddr(c.client)), v)}
}

// holdFor is how many inspect_timeouts a connection refused for its
// source's sake is held at least (10-20 s at the default 2 s).
const holdFor = 5

// holdLimit is how many refused connections may be held open: the
// configured admission.hold_refused, at most a quarter of the descriptor
// limit.
func (b *Broker) holdLimit(cfg *Config) int {
	if b.nofile > 0 && b.nofile < 1<<40 {
		return min(cfg.Admission.HoldRefused, int(b.nofile/4))
	}
	return cfg.Admission.HoldRefused
}

// admitted ends the pending stage: the first packet was read, or its read
// failed.
func (c *conn) admitted() {
	c.b.counters.admission.Done(c.client)
	c.b.pending.Add(-1)
}

// leave ends an admitted client's stay: it no longer counts against its
// source (admission.max_connections_per_source).
func (c *conn) leave() { c.b.counters.admission.Leave(c.client) }

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
