package relay

import (
	"errors"
	"net"
	"net/netip"
	"sort"
	"sync/atomic"
	"syscall"
	"time"
)

// udpFlowBuf is a flow's buffer for the server's datagrams: RDP-UDP
// datagrams are at most rdp.UDPMaxMTU (1232) bytes; a larger one is
// dropped and counted (UDPStats.DroppedOversize), never cut.
const udpFlowBuf = 4096

// udpFlow is one client ip:port and its connected socket to the server.
type udpFlow struct {
	u       *UDP
	client  netip.AddrPort // as the listening socket reports it
	group   uint64
	addr    string
	started time.Time
	last    atomic.Int64 // coarse time of the last datagram, either way
	ready   atomic.Bool  // server is set: datagrams may go
	server  *net.UDPConn // set once under u.mu, before ready

	inPackets, inBytes   atomic.Uint64 // client -> server (the read loop)
	outPackets, outBytes atomic.Uint64 // server -> client (the flow's goroutine)

	end string // why it ended; "" while it runs (under u.mu)
}

// run dials the server, sends the first datagram and relays the server's
// datagrams to the client until the flow ends.
func (f *udpFlow) run(first []byte) {
	u := f.u
	defer u.wg.Done()
	c, err := u.dial.Dial("udp", f.addr)
	if err != nil {
		u.t.dialErrors.Add(1)
		u.opts.Logger.Warn("udp flow: dial server failed", "client", f.client.String(), "server_addr", f.addr, "err", err)
		u.end(f, UDPEndError)
		return
	}
	server := c.(*net.UDPConn)
	u.mu.Lock()
	if f.end != "" { // ended while dialing
		u.mu.Unlock()
		server.Close()
		return
	}
	f.server = server
	f.ready.Store(true)
	u.mu.Unlock()
	u.opts.Logger.Debug("udp flow started", "client", f.client.String(), "server_addr", f.addr, "session", f.group)
	f.toServer(first, u.clock.Load())
	f.fromServer()
}

// toServer sends one client datagram to the server.
func (f *udpFlow) toServer(b []byte, now int64) {
	if !f.ready.Load() {
		f.u.t.pending.Add(1) // the socket is being opened: the client retransmits
		return
	}
	f.touch(now)
	if _, err := f.server.Write(b); err != nil {
		f.u.t.sendErrors.Add(1)
		return
	}
	f.inPackets.Add(1)
	f.inBytes.Add(uint64(len(b)))
}

// fromServer relays the server's datagrams to the client until the
// server socket is closed.
func (f *udpFlow) fromServer() {
	u := f.u
	buf := make([]byte, udpFlowBuf)
	for {
		n, _, flags, _, err := f.server.ReadMsgUDPAddrPort(buf, nil)
		switch {
		case errors.Is(err, net.ErrClosed):
			return
		case errors.Is(err, syscall.ECONNREFUSED):
			continue // ICMP port unreachable for an earlier datagram: idle ends it
		case err != nil:
			u.opts.Logger.Warn("udp flow: read from server", "client", f.client.String(), "server_addr", f.addr, "err", err)
			u.end(f, UDPEndError)
			return
		case flags&syscall.MSG_TRUNC != 0:
			u.t.oversize.Add(1)
			continue
		}
		f.touch(u.clock.Load())
		if _, err := u.conn.WriteToUDPAddrPort(buf[:n], f.client); err != nil {
			u.t.sendErrors.Add(1)
			continue
		}
		f.outPackets.Add(1)
		f.outBytes.Add(uint64(n))
	}
}

// touch records activity at now (a store only when the coarse clock moved).
func (f *udpFlow) touch(now int64) {
	if f.last.Load() != now {
		f.last.Store(now)
	}
}

// udpTotals are a relay's counters; ended flows' datagrams are folded in.
type udpTotals struct {
	flows, ended                                  atomic.Uint64
	inPackets, inBytes, outPackets, outBytes      atomic.Uint64
	unattached, full, sessionFull, dialErrors     atomic.Uint64
	pending, oversize, sendErrors, readErrors     atomic.Uint64
	endedIdle, endedSession, endedClosed, endedEr atomic.Uint64
}

func (t *udpTotals) fold(f *udpFlow) {
	t.ended.Add(1)
	t.inPackets.Add(f.inPackets.Load())
	t.inBytes.Add(f.inBytes.Load())
	t.outPackets.Add(f.outPackets.Load())
	t.outBytes.Add(f.outBytes.Load())
	switch f.end {
	case UDPEndIdle:
		t.endedIdle.Add(1)
	case UDPEndSession:
		t.endedSession.Add(1)
	case UDPEndClosed:
		t.endedClosed.Add(1)
	default:
		t.endedEr.Add(1)
	}
}

// UDPStats are a UDP relay's counters since it started.
type UDPStats struct {
	// Active is the number of flows now.
	Active int
	// Flows counts the flows opened.
	Flows uint64
	// EndedIdle, EndedSession, EndedClosed and EndedError count the flows
	// that ended, by why (UDPEnd* constants).
	EndedIdle, EndedSession, EndedClosed, EndedError uint64
	// DatagramsIn and BytesIn are client -> server; DatagramsOut and
	// BytesOut server -> client.
	DatagramsIn, BytesIn, DatagramsOut, BytesOut uint64
	// DroppedUnattached counts first datagrams Attach refused (a new
	// flow it could not tie to a session; the caller says why).
	DroppedUnattached uint64
	// DroppedFull and DroppedSessionFull count new flows beyond max_flows
	// and max_flows_per_session.
	DroppedFull, DroppedSessionFull uint64
	// DroppedDial counts new flows whose server address could not be dialed.
	DroppedDial uint64
	// DroppedPending counts datagrams that came while their flow's socket
	// was being opened.
	DroppedPending uint64
	// DroppedOversize counts server datagrams larger than a flow's buffer.
	DroppedOversize uint64
	// SendErrors counts datagrams a send failed for, either way.
	SendErrors uint64
	// ReadErrors counts failed reads of the listening socket.
	ReadErrors uint64
}

// Stats returns the relay's counters, the running flows' datagrams included.
func (u *UDP) Stats() UDPStats {
	t := &u.t
	s := UDPStats{
		Flows: t.flows.Load(), EndedIdle: t.endedIdle.Load(), EndedSession: t.endedSession.Load(),
		EndedClosed: t.endedClosed.Load(), EndedError: t.endedEr.Load(),
		DroppedUnattached: t.unattached.Load(), DroppedFull: t.full.Load(), DroppedSessionFull: t.sessionFull.Load(),
		DroppedDial: t.dialErrors.Load(), DroppedPending: t.pending.Load(), DroppedOversize: t.oversize.Load(),
		SendErrors: t.sendErrors.Load(), ReadErrors: t.readErrors.Load(),
	}
	u.mu.RLock()
	s.Active = len(u.flows)
	// Under the lock: a flow is folded into the totals when it leaves the
	// map, so it is counted once.
	s.DatagramsIn, s.BytesIn = t.inPackets.Load(), t.inBytes.Load()
	s.DatagramsOut, s.BytesOut = t.outPackets.Load(), t.outBytes.Load()
	for _, f := range u.flows {
		s.DatagramsIn += f.inPackets.Load()
		s.BytesIn += f.inBytes.Load()
		s.DatagramsOut += f.outPackets.Load()
		s.BytesOut += f.outBytes.Load()
	}
	u.mu.RUnlock()
	return s
}

// UDPFlowInfo is one running flow.
type UDPFlowInfo struct {
	Client       netip.AddrPort
	ServerAddr   string
	Group        uint64
	Since        time.Time
	DatagramsIn  uint64
	DatagramsOut uint64
}

// Flows returns the running flows, oldest first.
func (u *UDP) Flows() []UDPFlowInfo {
	u.mu.RLock()
	out := make([]UDPFlowInfo, 0, len(u.flows))
	for _, f := range u.flows {
		out = append(out, UDPFlowInfo{Client: f.client, ServerAddr: f.addr, Group: f.group, Since: f.started,
			DatagramsIn: f.inPackets.Load(), DatagramsOut: f.outPackets.Load()})
	}
	u.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}
