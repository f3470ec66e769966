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
	s := &session{id: c.b.nextID.Add(1), client: c.client, server: server, log: &c.log, started: connected}
	c.log.ID = s.id
	if !c.b.track(s) { // the broker is stopping: it takes no new sessions
		s.close()
		return
	}
	c.b.counters.Sessions.Add(1)
	stop := c.keepaliveLater(server)
	res := relay.Splice(c.client, server, c.cfg.Relay.HalfCloseTimeout)
	stop()
	s.close()
	c.b.untrack(s)
	c.log.BytesIn, c.log.BytesOut, c.log.End = res.In+int64(len(c.first)), res.Out, res.End
	c.log.Duration = c.b.now().Sub(connected)
	c.b.counters.BytesIn.Add(uint64(c.log.BytesIn))
	c.b.counters.BytesOut.Add(uint64(c.log.BytesOut))
	c.b.log.LogAttrs(ctx, slog.LevelInfo, "session", c.log.sessionAttrs()...)
}

// keepaliveLater sets keepalive on both sockets once the session has
// lasted relay.KeepaliveDelay (on the client only when the broker made the
// listener: a listener given to us may have set its own at accept).
func (c *conn) keepaliveLater(server *net.TCPConn) (stop func()) {
	if c.b.ownListener {
		return relay.KeepaliveLater(c.cfg.Relay.Keepalive, c.client, server)
	}
	return relay.KeepaliveLater(c.cfg.Relay.Keepalive, server)
}
