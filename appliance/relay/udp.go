package relay

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The UDP data path: one listening socket shared by every client, and per
// flow (a client ip:port) a connected socket to the server:
//
//	u := relay.NewUDP(conn, cfg, relay.UDPOptions{Attach: attach, Alive: alive})
//	go u.Run(ctx)            // until ctx is done
//	stats := u.Stats()
//
// The first datagram of an unknown client goes to Attach, which says
// where the flow goes (a server address) and which TCP session it belongs
// to, or refuses it: the datagram is then dropped. Datagrams from the
// client go to the server through the flow's socket; the server's replies
// come back from the listening socket, so the client sees one address. A
// flow ends after IdleTimeout without datagrams, when Alive says its
// session is gone, at EndGroup, or when Run returns.

// UDPTarget is where a new flow goes.
type UDPTarget struct {
	// Addr is the server's UDP "host:port".
	Addr string
	// Group is the TCP session the flow belongs to: MaxFlowsPerSession
	// counts per group, Alive and EndGroup take it.
	Group uint64
}

// UDPOptions are a UDP relay's hooks and injected dependencies.
type UDPOptions struct {
	// Attach decides where a new flow goes from its first datagram (the
	// client address is unmapped); an error drops the datagram. Required.
	// It must not call the relay.
	Attach func(client netip.AddrPort, first []byte) (UDPTarget, error)
	// Alive reports whether a group's session still runs; flows of a
	// dead group end within a sweep (IdleTimeout/4, at most 250ms).
	// Nil: groups end only by EndGroup.
	Alive func(group uint64) bool
	// Logger receives flow starts and ends at debug level. Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock of idle timeouts. Default time.Now.
	Now func() time.Time
}

// UDP relays the flows of one listening socket. Its methods are safe for
// concurrent use.
type UDP struct {
	conn  *net.UDPConn
	cfg   UDPConfig
	opts  UDPOptions
	sweep time.Duration
	clock atomic.Int64 // coarse now (unix ns), advanced by each sweep
	dial  net.Dialer
	t     udpTotals
	wg    sync.WaitGroup // one per flow goroutine

	mu     sync.RWMutex // protects following fields
	flows  map[netip.AddrPort]*udpFlow
	groups map[uint64]int // flows per group
	closed bool
}

// Flow ends (UDPFlowInfo.End, logs).
const (
	UDPEndIdle    = "idle"    // no datagram for IdleTimeout
	UDPEndSession = "session" // its TCP session ended (Alive, EndGroup)
	UDPEndClosed  = "closed"  // the relay stopped
	UDPEndError   = "error"   // the server socket failed
)

// NewUDP returns a relay serving conn (it owns conn from Run on).
func NewUDP(conn *net.UDPConn, cfg UDPConfig, opts UDPOptions) *UDP {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	u := &UDP{
		conn: conn, cfg: cfg, opts: opts, dial: net.Dialer{Timeout: 3 * time.Second},
		flows: make(map[netip.AddrPort]*udpFlow), groups: make(map[uint64]int),
		sweep: min(max(cfg.IdleTimeout/4, 5*time.Millisecond), 250*time.Millisecond),
	}
	u.clock.Store(opts.Now().UnixNano())
	return u
}

// Addr is the listening address.
func (u *UDP) Addr() net.Addr { return u.conn.LocalAddr() }

// Run relays until ctx is done or the socket is closed, then ends every
// flow, closes the socket and returns.
func (u *UDP) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { u.conn.Close() })
	defer stop()
	sweepDone := make(chan struct{})
	sweepCtx, stopSweep := context.WithCancel(ctx)
	go func() { defer close(sweepDone); u.sweepLoop(sweepCtx) }()
	err := u.readLoop()
	stopSweep()
	<-sweepDone
	u.mu.Lock()
	u.closed = true
	for _, f := range u.flows {
		u.endLocked(f, UDPEndClosed)
	}
	u.mu.Unlock()
	u.conn.Close()
	u.wg.Wait()
	return err
}

// readLoop is client -> server: one goroutine for every client.
func (u *UDP) readLoop() error {
	buf := make([]byte, 64<<10)
	var backoff time.Duration
	for {
		n, from, err := u.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			u.t.readErrors.Add(1)
			backoff = min(max(2*backoff, time.Millisecond), 100*time.Millisecond)
			time.Sleep(backoff) // transient (ENOBUFS...): do not spin
			continue
		}
		backoff = 0
		u.mu.RLock()
		f := u.flows[from]
		u.mu.RUnlock()
		if f == nil {
			u.open(from, buf[:n])
			continue
		}
		f.toServer(buf[:n], u.clock.Load())
	}
}

// open starts a flow for a client's first datagram, if Attach and the
// caps allow it.
func (u *UDP) open(from netip.AddrPort, first []byte) {
	client := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	target, err := u.opts.Attach(client, first)
	if err != nil {
		u.t.unattached.Add(1)
		return
	}
	f := &udpFlow{u: u, client: from, group: target.Group, addr: target.Addr, started: u.opts.Now()}
	f.last.Store(u.clock.Load())
	u.mu.Lock()
	switch {
	case u.closed:
		u.mu.Unlock()
		return
	case len(u.flows) >= u.cfg.MaxFlows:
		u.mu.Unlock()
		u.t.full.Add(1)
		return
	case u.groups[target.Group] >= u.cfg.MaxFlowsPerSession:
		u.mu.Unlock()
		u.t.sessionFull.Add(1)
		return
	}
	u.flows[from] = f
	u.groups[target.Group]++
	u.wg.Add(1)
	u.mu.Unlock()
	u.t.flows.Add(1)
	go f.run(bytes.Clone(first))
}

// endLocked removes f and closes its server socket (its goroutine ends).
func (u *UDP) endLocked(f *udpFlow, why string) {
	if f.end != "" {
		return
	}
	f.end = why
	delete(u.flows, f.client)
	if u.groups[f.group]--; u.groups[f.group] <= 0 {
		delete(u.groups, f.group)
	}
	if f.server != nil {
		f.server.Close()
	}
	u.t.fold(f)
	u.opts.Logger.Debug("udp flow ended", "client", f.client.String(), "server_addr", f.addr,
		"session", f.group, "end", why, "datagrams_in", f.inPackets.Load(), "datagrams_out", f.outPackets.Load())
}

// end ends f unless it already ended.
func (u *UDP) end(f *udpFlow, why string) {
	u.mu.Lock()
	u.endLocked(f, why)
	u.mu.Unlock()
}

// EndGroup ends every flow of group and returns how many there were.
func (u *UDP) EndGroup(group uint64) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, f := range u.flows {
		if f.group == group {
			u.endLocked(f, UDPEndSession)
			n++
		}
	}
	return n
}

// sweepLoop advances the coarse clock and ends idle flows and flows of
// dead sessions.
func (u *UDP) sweepLoop(ctx context.Context) {
	tick := time.NewTicker(u.sweep)
	defer tick.Stop()
	var batch []*udpFlow
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := u.opts.Now().UnixNano()
		u.clock.Store(now)
		batch = batch[:0]
		u.mu.RLock()
		for _, f := range u.flows {
			batch = append(batch, f)
		}
		u.mu.RUnlock()
		alive := make(map[uint64]bool)
		for _, f := range batch {
			switch { // a flow whose session ended is counted so, idle or not
			case u.opts.Alive != nil && !u.aliveCached(alive, f.group):
				u.end(f, UDPEndSession)
			case now-f.last.Load() >= int64(u.cfg.IdleTimeout):
				u.end(f, UDPEndIdle)
			}
		}
		clear(batch) // let ended flows go
	}
}

// aliveCached asks Alive once per group and sweep.
func (u *UDP) aliveCached(cache map[uint64]bool, group uint64) bool {
	a, ok := cache[group]
	if !ok {
		a = u.opts.Alive(group)
		cache[group] = a
	}
	return a
}
