package appliance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/rdpbroker/rdpbroker/appliance/relay"
	"github.com/rdpbroker/rdpbroker/rdp"
)

// The RDP-UDP transport (udp: enabled): the broker listens on UDP at its
// TCP address and relays each client's UDP flow (relay.UDP) to the server
// of the TCP session it belongs to. A new flow is tied to a live session
// by its SYN's correlation id (MS-RDPEUDP RDPUDP_CORRELATION_ID_PAYLOAD,
// equal to the Connection Request's RDP_NEG_CORRELATION_INFO), else by
// the client address when exactly one live session comes from it;
// anything else is dropped and counted. Datagrams go to the session's
// server's udp_address, a configured server's only; the flow ends with
// its session (within a sweep) or after udp.idle_timeout.

// Why a new UDP flow was dropped by the broker (beside the relay's own
// caps), and how one was attached.
var (
	errUDPNotSyn     = errors.New("not an RDP-UDP SYN: no flow to continue")
	errUDPNoSession  = errors.New("no live session matches")
	errUDPAmbiguous  = errors.New("several live sessions from the address, none by correlation id")
	errUDPServerGone = errors.New("the session's server is no longer configured")
)

// udpService is the broker's UDP side.
type udpService struct {
	relay atomic.Pointer[relay.UDP] // nil unless udp.enabled and running

	byCorrelation, byAddress                atomic.Uint64 // flows attached
	notSyn, malformed, noSession, ambiguous atomic.Uint64 // flows dropped
	serverGone                              atomic.Uint64
}

// UDPStats are the UDP relay's counters and the broker's reasons for the
// flows it attached or dropped.
type UDPStats struct {
	relay.UDPStats
	// AttachedByCorrelation and AttachedByAddress count the flows tied to
	// a session by correlation id and by client address.
	AttachedByCorrelation, AttachedByAddress uint64
	// DroppedNotSyn counts first datagrams that are not an RDP-UDP SYN
	// (a flow the broker does not know: ended, or never started);
	// DroppedMalformed SYNs that do not parse.
	DroppedNotSyn, DroppedMalformed uint64
	// DroppedNoSession counts SYNs no live session matches;
	// DroppedAmbiguous those from an address with several sessions and
	// no correlation id match; DroppedServerGone those whose session's
	// server left the configuration.
	DroppedNoSession, DroppedAmbiguous, DroppedServerGone uint64
}

// UDPStats returns the UDP counters (zero unless udp.enabled).
func (b *Broker) UDPStats() UDPStats {
	u := &b.udp
	s := UDPStats{
		AttachedByCorrelation: u.byCorrelation.Load(), AttachedByAddress: u.byAddress.Load(),
		DroppedNotSyn: u.notSyn.Load(), DroppedMalformed: u.malformed.Load(),
		DroppedNoSession: u.noSession.Load(), DroppedAmbiguous: u.ambiguous.Load(), DroppedServerGone: u.serverGone.Load(),
	}
	if r := u.relay.Load(); r != nil {
		s.UDPStats = r.Stats()
	}
	return s
}

// UDPFlows returns the running UDP flows (Group is the session id).
func (b *Broker) UDPFlows() []relay.UDPFlowInfo {
	if r := b.udp.relay.Load(); r != nil {
		return r.Flows()
	}
	return nil
}

// UDPAddr is the UDP listening address (nil unless udp.enabled and running).
func (b *Broker) UDPAddr() net.Addr {
	if r := b.udp.relay.Load(); r != nil {
		return r.Addr()
	}
	return nil
}

// startUDP listens on UDP at addr (the TCP listener's) when udp.enabled,
// and relays until stop is called.
func (b *Broker) startUDP(addr net.Addr) (stop func(), err error) {
	cfg := b.Config().UDP
	if !cfg.Enabled {
		return func() {}, nil
	}
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("appliance: udp: listener address %s is not TCP", addr)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ta.IP, Port: ta.Port, Zone: ta.Zone})
	if err != nil {
		return nil, fmt.Errorf("appliance: udp: listen %s: %w", addr, err)
	}
	r := relay.NewUDP(conn, cfg, relay.UDPOptions{Attach: b.attachUDP, Alive: b.sessionAlive, Logger: b.log, Now: b.now})
	b.udp.relay.Store(r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			b.log.Error("udp relay stopped", "err", err)
		}
	}()
	b.log.Info("listening", "addr", conn.LocalAddr().String(), "proto", "udp")
	return func() { cancel(); <-done }, nil
}

// sessionAlive reports whether session id is still relayed.
func (b *Broker) sessionAlive(id uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.sessions[id]
	return ok
}

// attachUDP ties a new flow to a live session and returns its server's
// UDP address (relay.UDPOptions.Attach).
func (b *Broker) attachUDP(client netip.AddrPort, first []byte) (relay.UDPTarget, error) {
	u := &b.udp
	syn, err := rdp.ParseUDPSyn(first)
	if err != nil {
		if errors.Is(err, rdp.ErrNotUDPSyn) {
			u.notSyn.Add(1)
			return relay.UDPTarget{}, errUDPNotSyn
		}
		u.malformed.Add(1)
		b.log.Debug("udp: malformed SYN dropped", "client", client.String(), "err", err)
		return relay.UDPTarget{}, err
	}
	s, byID, err := b.udpSession(client.Addr(), syn)
	if err != nil {
		if errors.Is(err, errUDPAmbiguous) {
			u.ambiguous.Add(1)
		} else {
			u.noSession.Add(1)
		}
		b.log.Debug("udp flow dropped", "client", client.String(), "correlation_id", correlation(syn), "why", err.Error())
		return relay.UDPTarget{}, err
	}
	srv := b.router.Table().Server(s.log.Server)
	if srv == nil {
		u.serverGone.Add(1)
		b.log.Debug("udp flow dropped", "client", client.String(), "session", s.id, "why", errUDPServerGone.Error())
		return relay.UDPTarget{}, errUDPServerGone
	}
	how := "address"
	if byID {
		how = "correlation_id"
		u.byCorrelation.Add(1)
	} else {
		u.byAddress.Add(1)
	}
	s.log.udp.Store(true)
	b.log.Debug("udp flow attached", "client", client.String(), "session", s.id, "by", how,
		"server", srv.Name, "udp_addr", srv.UDPAddress)
	return relay.UDPTarget{Addr: srv.UDPAddress, Group: s.id}, nil
}

// udpSession finds the live session a SYN from addr belongs to: the one
// with its correlation id, else the only one from addr (when the SYN or
// that session has no correlation id: two different ids are two clients).
func (b *Broker) udpSession(addr netip.Addr, syn rdp.UDPSyn) (s *session, byID bool, err error) {
	// The sessions' client is RemoteAddr().String(), "1.2.3.4:port" (also
	// for an IPv4-mapped peer) or "[2001:db8::1]:port": compare its host
	// part as text, without parsing every session's address.
	host := netip.AddrPortFrom(addr.Unmap(), 0).String()
	host = host[:len(host)-1] // "1.2.3.4:" or "[2001:db8::1]:"
	id := syn.HasCorrelation && syn.CorrelationID != [16]byte{}
	b.mu.Lock()
	defer b.mu.Unlock()
	var from *session
	n := 0
	for _, cand := range b.sessions {
		if id && cand.log.HasCorrelation && cand.log.CorrelationID == syn.CorrelationID {
			return cand, true, nil
		}
		if strings.HasPrefix(cand.log.Client, host) {
			from, n = cand, n+1
		}
	}
	switch {
	case n > 1:
		return nil, false, errUDPAmbiguous
	case n == 0 || (id && from.log.HasCorrelation):
		return nil, false, errUDPNoSession
	}
	return from, false, nil
}

// correlation is a SYN's correlation id for logs ("" without one).
func correlation(syn rdp.UDPSyn) string {
	if !syn.HasCorrelation {
		return ""
	}
	return fmt.Sprintf("%x", syn.CorrelationID[:])
}
