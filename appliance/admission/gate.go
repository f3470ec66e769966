package admission

import (
	"container/list"
	"io"
	"net/netip"
	"sync"
	"time"
)

// Verdict is Admit's answer.
type Verdict int

// Verdicts. Every one but Admitted is a refusal.
const (
	Admitted          Verdict = iota
	PendingFull               // max_pending reached and this source holds the most
	SourcePending             // the source holds max_pending_per_source
	SourceRate                // the source exceeded rate_per_source
	SourceConnections         // the source holds max_connections_per_source
)

func (v Verdict) String() string {
	switch v {
	case Admitted:
		return "admitted"
	case PendingFull:
		return "max_pending reached"
	case SourcePending:
		return "max_pending_per_source reached"
	case SourceRate:
		return "rate_per_source exceeded"
	case SourceConnections:
		return "max_connections_per_source reached"
	}
	return "unknown"
}

// Limits are the limits one Admit applies (the configuration in effect
// when the connection arrived).
type Limits struct {
	// MaxPending is the global cap on pending connections (> 0).
	MaxPending int
	Config
}

// Gate tracks admitted connections per source. The zero value is ready;
// all methods are safe for concurrent use. Connections are identified by
// the io.Closer given to Admit (comparable: a *net.TCPConn, say).
type Gate struct {
	mu      sync.Mutex // protects following fields
	sources map[netip.Prefix]*source
	holders map[*source]struct{} // sources holding pending slots
	conns   map[io.Closer]*entry
	pending int // connections admitted and not yet Done
	evicted uint64
	sweeps  int // admissions since the last sweep of idle sources

	held tarpit // refused connections held open until their deadline
}

// Hold keeps a connection refused for its source's sake (SourcePending,
// SourceRate, SourceConnections) open, unread, until until, then closes
// it; false when max are held already (the caller closes it at once).
func (g *Gate) Hold(c io.Closer, until time.Time, max int) bool { return g.held.hold(c, until, max) }

// Held is how many refused connections are held open.
func (g *Gate) Held() int { return g.held.len() }

// entry is one admitted connection.
type entry struct {
	c       io.Closer
	src     *source
	pending *list.Element // its place in src.pending while pending; nil after
}

// sweepEvery is how many admissions pass between sweeps of idle sources
// kept for their token bucket.
const sweepEvery = 1024

// Admit decides on a new connection c from addr at now. Admitted: c holds
// a pending slot until Done and counts against its source until Leave.
// victim, when not nil, is a pending connection evicted to make room: the
// caller closes it (outside any lock), which fails its pending read.
func (g *Gate) Admit(now time.Time, addr netip.Addr, c io.Closer, l Limits) (v Verdict, victim io.Closer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sources == nil {
		g.sources = make(map[netip.Prefix]*source)
		g.holders = make(map[*source]struct{})
		g.conns = make(map[io.Closer]*entry)
	}
	g.sweep(now, l)
	key := SourceOf(addr)
	s := g.sources[key]
	if s == nil {
		s = &source{key: key}
		g.sources[key] = s
	}
	if v := g.check(now, s, l); v != Admitted {
		return v, nil
	}
	if g.pending >= l.MaxPending {
		victim = g.evict(s)
	}
	e := &entry{c: c, src: s}
	e.pending = s.pending.PushBack(e)
	g.holders[s] = struct{}{}
	s.conns++
	g.pending++
	g.conns[c] = e
	return Admitted, victim
}

// check applies the limits to a new connection from s; when the pending
// slots are all taken, it admits only if another source holds more of them
// than s (one will be evicted).
func (g *Gate) check(now time.Time, s *source, l Limits) Verdict {
	if l.MaxConnectionsPerSource > 0 && s.conns >= l.MaxConnectionsPerSource {
		return SourceConnections
	}
	atShare := s.pending.Len() >= min(l.MaxPendingPerSource, l.MaxPending)
	if g.pending >= l.MaxPending {
		// Evict only from a source that would still hold at least as
		// many as s afterwards: equals keep their slots.
		if top := g.top(); atShare || top == nil || top.pending.Len() <= s.pending.Len()+1 {
			return PendingFull
		}
	}
	if atShare {
		return SourcePending
	}
	if l.RatePerSource > 0 && !s.take(now, l.RatePerSource, l.burst()) {
		return SourceRate
	}
	return Admitted
}

// top is the source holding the most pending connections (between equals,
// any: they are interchangeable for fairness); nil when none.
func (g *Gate) top() *source {
	var best *source
	for s := range g.holders {
		if best == nil || s.pending.Len() > best.pending.Len() {
			best = s
		}
	}
	if best == nil || best.pending.Len() == 0 {
		return nil
	}
	return best
}

// evict takes the oldest pending connection of the source holding the
// most (not s) out of the pending slots and returns it to be closed.
func (g *Gate) evict(s *source) io.Closer {
	top := g.top()
	if top == nil || top == s {
		return nil
	}
	e := top.oldest()
	g.unpend(e)
	g.evicted++
	return e.c
}

// unpend takes e out of the pending slots.
func (g *Gate) unpend(e *entry) {
	if e.pending == nil {
		return
	}
	e.src.pending.Remove(e.pending)
	if e.src.pending.Len() == 0 {
		delete(g.holders, e.src)
	}
	e.pending = nil
	g.pending--
}

// Done says c's first packet has been read (or its read failed): it no
// longer holds a pending slot. Unknown or evicted connections are ignored.
func (g *Gate) Done(c io.Closer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.conns[c]; e != nil {
		g.unpend(e)
	}
}

// Leave says c is closed: it no longer counts against its source.
func (g *Gate) Leave(c io.Closer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.conns[c]
	if e == nil {
		return
	}
	g.unpend(e)
	delete(g.conns, c)
	e.src.conns--
	if e.src.conns == 0 && e.src.filled.IsZero() {
		delete(g.sources, e.src.key) // no bucket to remember
	}
}

// sweep forgets, every sweepEvery admissions, the sources with nothing
// admitted whose token bucket is full again.
func (g *Gate) sweep(now time.Time, l Limits) {
	if g.sweeps++; g.sweeps < sweepEvery {
		return
	}
	g.sweeps = 0
	for k, s := range g.sources {
		if s.idle(now, l.RatePerSource, l.burst()) {
			delete(g.sources, k)
		}
	}
}

// Stats is a snapshot of the gate.
type Stats struct {
	Pending     int    // connections holding a pending slot
	Connections int    // connections admitted and not yet left
	Sources     int    // sources remembered
	Evicted     uint64 // pending connections evicted since start
}

// Stats returns the gate's state.
func (g *Gate) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Stats{Pending: g.pending, Connections: len(g.conns), Sources: len(g.sources), Evicted: g.evicted}
}

// SourceStats returns how many pending slots and connections the source
// of addr holds.
func (g *Gate) SourceStats(addr netip.Addr) (pending, conns int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.sources[SourceOf(addr)]; s != nil {
		return s.pending.Len(), s.conns
	}
	return 0, 0
}
