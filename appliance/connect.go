package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/rdpbroker/rdpbroker/routing"
)

// connect walks the decision's try order: reserve a slot on the server,
// dial it, replay the first packet. A failed attempt is reported to the
// server's passive health and the next candidate is tried. On success the
// caller owns the slot (srv.Release) and the connection.
func (c *conn) connect(ctx context.Context, d routing.Decision) (*routing.Server, *net.TCPConn, *refusal) {
	var errs []error
	for _, srv := range d.Candidates {
		if !srv.Acquire() {
			errs = append(errs, fmt.Errorf("%s: full", srv.Name))
			continue
		}
		c.log.Tries++
		server, err := c.dial(ctx, srv)
		if err == nil {
			return srv, server, nil
		}
		srv.Release()
		if errors.Is(err, errLocalResources) {
			// This process is out of descriptors or ports: every server
			// would fail the same way, and none is to blame.
			return nil, nil, c.connectRefusal(RejectLimit, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", srv.Name, err))
	}
	if len(errs) == 0 {
		return nil, nil, c.connectRefusal(RejectNoServer, errors.New("no candidate server"))
	}
	return nil, nil, c.connectRefusal(RejectNoServer, errors.Join(errs...))
}

// dial dials one candidate and reports the outcome to its passive health,
// unless the failure is this process's own (errLocalResources).
func (c *conn) dial(ctx context.Context, srv *routing.Server) (*net.TCPConn, error) {
	server, err := c.b.dialer.Load().DialAndReplay(ctx, srv.Address, c.first)
	switch {
	case err == nil:
		srv.ReportConnectSuccess()
		return server, nil
	case routing.LocalExhaustion(err):
		return nil, fmt.Errorf("%w: %w", errLocalResources, err)
	}
	srv.ReportConnectFailure(c.b.now())
	c.b.counters.ConnectFailures.Add(1)
	c.b.log.Warn("server connect failed", "server", srv.Name, "addr", srv.Address, "err", err)
	return nil, err
}

func (c *conn) connectRefusal(reason Reject, err error) *refusal {
	return &refusal{reason: reason, err: err, attrs: []slog.Attr{slog.Int("tries", c.log.Tries)}}
}
