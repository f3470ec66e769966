package affinity

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate and events are the Replicator as memberlist sees it.
type (
	delegate Replicator
	events   Replicator
)

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*events)(nil)
)

func (d *delegate) NodeMeta(limit int) []byte { return nil }

// NotifyMsg handles a direct push, a gossiped broadcast or a digest. It
// runs on memberlist's receive path: merging is memory only.
func (d *delegate) NotifyMsg(b []byte) {
	r := (*Replicator)(d)
	m, err := decodeMessage(b)
	if err != nil {
		r.log.Warn("affinity: bad replication message", "err", err, "bytes", len(b))
		return
	}
	switch m.typ {
	case msgEntries:
		r.t.merge(m.entries)
	case msgDigest:
		r.handleDigest(m)
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

// LocalState is this node's half of a push/pull (on join and every
// PushPullInterval): its bucket digests, a few KiB whatever the table
// size. The records of differing buckets follow as direct messages.
func (d *delegate) LocalState(join bool) []byte {
	r := (*Replicator)(d)
	return encodeDigest(r.self, false, r.t.digests())
}

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	r := (*Replicator)(d)
	m, err := decodeMessage(buf)
	if err != nil || m.typ != msgDigest {
		r.log.Warn("affinity: bad push/pull state", "err", err, "bytes", len(buf))
		return
	}
	r.handleDigest(m)
}

func (e *events) NotifyJoin(n *memberlist.Node) {
	r := (*Replicator)(e)
	if n.Name == r.self {
		return
	}
	r.log.Info("affinity: peer up", "peer", n.Name, "addr", n.Address())
	p := r.peerFor(n.Name, n.Address())
	p.setConnected(true)
	p.requestSync(nil, 0, true)
}

func (e *events) NotifyLeave(n *memberlist.Node) {
	r := (*Replicator)(e)
	if n.Name == r.self {
		return
	}
	r.log.Warn("affinity: peer down", "peer", n.Name, "addr", n.Address())
	r.peerFor(n.Name, n.Address()).setConnected(false)
}

func (e *events) NotifyUpdate(n *memberlist.Node) {}

// guard is the peer port as memberlist sees it: memberlist's own UDP and
// TCP transport, with every datagram and connection from an address that
// is not a configured member dropped (counted, never logged one by one)
// and inbound connections capped (peers.max_connections), so a flood of
// the peer port cannot take the descriptors client sessions need.
type guard struct {
	*memberlist.NetTransport
	allowed func(netip.Addr) bool
	slots   chan struct{} // one per inbound connection held
	packets chan *memberlist.Packet
	streams chan net.Conn
	stop    chan struct{} // closed by Shutdown: drop everything
	drained chan struct{} // closed once the inner transport stopped
	wg      sync.WaitGroup
	log     *slog.Logger
	every   time.Duration // period of the summary of what was dropped
	once    sync.Once     // Shutdown's

	droppedPackets, droppedConns, overCap atomic.Uint64
}

var _ memberlist.NodeAwareTransport = (*guard)(nil)

// guardSummaryEvery is how often what the guard dropped is logged (once,
// when anything was).
const guardSummaryEvery = 10 * time.Second

func newGuard(nt *memberlist.NetTransport, allowed func(netip.Addr) bool, maxConns int, log *slog.Logger, every time.Duration) *guard {
	g := &guard{NetTransport: nt, allowed: allowed, slots: make(chan struct{}, maxConns),
		packets: make(chan *memberlist.Packet), streams: make(chan net.Conn),
		stop: make(chan struct{}), drained: make(chan struct{}), log: log, every: every}
	g.wg.Add(3)
	go g.forwardPackets()
	go g.forwardStreams()
	go g.summarise()
	return g
}

func (g *guard) PacketCh() <-chan *memberlist.Packet { return g.packets }
func (g *guard) StreamCh() <-chan net.Conn           { return g.streams }

// Shutdown stops the inner transport (draining it meanwhile: its
// listeners block until their packet or connection is taken).
func (g *guard) Shutdown() error {
	var err error
	g.once.Do(func() {
		close(g.stop)
		err = g.NetTransport.Shutdown()
		close(g.drained)
		g.wg.Wait()
	})
	return err
}

// from is the source address of a, unmapped; the zero Addr if unknown.
func from(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

func (g *guard) forwardPackets() {
	defer g.wg.Done()
	for {
		select {
		case <-g.drained:
			return
		case p := <-g.NetTransport.PacketCh():
			if !g.allowed(from(p.From)) {
				g.droppedPackets.Add(1)
				continue
			}
			select {
			case g.packets <- p:
			case <-g.stop:
			}
		}
	}
}

func (g *guard) forwardStreams() {
	defer g.wg.Done()
	for {
		select {
		case <-g.drained:
			return
		case c := <-g.NetTransport.StreamCh():
			if !g.allowed(from(c.RemoteAddr())) {
				g.droppedConns.Add(1)
				c.Close()
				continue
			}
			select {
			case g.slots <- struct{}{}:
			default:
				g.overCap.Add(1)
				c.Close()
				continue
			}
			sc := &slotConn{Conn: c, release: func() { <-g.slots }}
			select {
			case g.streams <- sc:
			case <-g.stop:
				sc.Close()
			}
		}
	}
}

// summarise logs, at most once per period, what was dropped in it.
func (g *guard) summarise() {
	defer g.wg.Done()
	tick := time.NewTicker(g.every)
	defer tick.Stop()
	var last [3]uint64
	for {
		select {
		case <-g.stop:
			return
		case <-tick.C:
		}
		now := [3]uint64{g.droppedPackets.Load(), g.droppedConns.Load(), g.overCap.Load()}
		if now != last {
			g.log.Warn("affinity: peer port: dropped traffic", "datagrams_from_non_members", now[0]-last[0],
				"connections_from_non_members", now[1]-last[1], "connections_over_cap", now[2]-last[2],
				"cap", cap(g.slots), "period", g.every)
			last = now
		}
	}
}

// slotConn gives its slot back when closed (once).
type slotConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// PortStats is what the peer port dropped since start.
type PortStats struct {
	DatagramsFromNonMembers   uint64
	ConnectionsFromNonMembers uint64
	ConnectionsOverCap        uint64
}
