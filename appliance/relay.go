package appliance

import (
	"context"
	"log/slog"
	"net"

	"github.com/rdpbroker/rdpbroker/appliance/relay"
	"github.com/rdpbroker/rdpbroker/routing"
)

// relay is the last stages: the session is tracked (shutdown, admin),
// relayed until both sides are done, counted and logged.
func (c *conn) relay(ctx context.Context, srv *routing.Server, server *net.TCPConn) {
	connected := c.b.now()
	c.log.Connect = connected.Sub(c.start)
	c.log.Server, c.log.ServerAddr = srv.Name, server.RemoteAddr().String()
	s := &session{id: c.b.nextID.Add(1), client: c.client, server: server, log: &c.log, started: connected,
		accepted: c.start, baseIn: int64(len(c.first))}
	s.rs = relay.NewSession(c.client, server, c.cfg.Relay.HalfCloseTimeout)
	c.log.ID = s.id
	if !c.b.track(s) { // the broker is stopping: it takes no new sessions
		s.close()
		return
	}
	c.b.counters.Sessions.Add(1)
	c.run(ctx, s, c.keepaliveLater(server))
}

// run relays a tracked session until both sides are done, or until it is
// handed over to a new process (upgrade), then counts and logs it.
func (c *conn) run(ctx context.Context, s *session, ka *relay.Keepalive) {
	res := s.rs.Run()
	ka.Stop()
	s.close() // after a handover: this process's descriptors only
	c.b.untrack(s)
	c.log.BytesIn, c.log.BytesOut, c.log.End = s.baseIn+res.In, s.baseOut+res.Out, res.End
	c.log.Duration = c.b.now().Sub(s.started)
	c.b.counters.BytesIn.Add(uint64(res.In + int64(len(c.first)))) // relayed by this process
	c.b.counters.BytesOut.Add(uint64(res.Out))
	if res.End == relay.EndHandedOver {
		c.b.log.LogAttrs(ctx, slog.LevelInfo, "session handed over", slog.Uint64("id", s.id),
			slog.String("client", c.log.Client), slog.String("login", c.log.Login),
			slog.Int64("bytes_in", c.log.BytesIn), slog.Int64("bytes_out", c.log.BytesOut))
		return
	}
	if !c.b.log.Enabled(ctx, slog.LevelInfo) {
		return // building the line costs more than the rest of a short session's bookkeeping
	}
	attrs := c.log.sessionAttrs()
	if s.adopted > 0 {
		attrs = append(attrs, slog.Int("upgrades", s.adopted))
	}
	c.b.log.LogAttrs(ctx, slog.LevelInfo, "session", attrs...)
}

// keepaliveLater sets keepalive on both sockets once the session has
// lasted relay.KeepaliveDelay (on the client only when the broker made the
// listener: a listener given to us may have set its own at accept).
func (c *conn) keepaliveLater(server *net.TCPConn) *relay.Keepalive {
	if c.b.ownListener {
		return c.b.keepalives.Add(c.cfg.Relay.Keepalive, c.client, server)
	}
	return c.b.keepalives.Add(c.cfg.Relay.Keepalive, server)
}
