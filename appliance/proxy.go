package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/routing"
)

// session is one proxied client: the two connections and what to log.
type session struct {
	id     uint64
	client *net.TCPConn
	server *net.TCPConn

	closeOnce sync.Once
}

func (s *session) close() {
	s.closeOnce.Do(func() {
		s.client.Close()
		if s.server != nil {
			s.server.Close()
		}
	})
}

// handle serves one accepted client from its first packet to its last byte.
func (b *Broker) handle(ctx context.Context, client *net.TCPConn) {
	defer b.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			b.counters.reject(RejectInternal)
			b.log.Error("panic while handling a client; connection closed",
				"client", client.RemoteAddr().String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			client.Close()
		}
	}()
	cfg := b.cfg.Load()
	start := b.now()
	if cfg.Keepalive.Idle >= 0 && !b.ownListener { // a listener given to us may have set its own
		client.SetKeepAliveConfig(keepaliveConfig(cfg.Keepalive))
	}
	if n := b.pending.Add(1); n > int64(cfg.MaxPending) {
		b.pending.Add(-1)
		// Count before closing: whoever sees the close may read the counter.
		b.counters.reject(RejectLimit)
		client.Close()
		// Debug only: under a flood a line per refused client would flood the log.
		b.log.Debug("rejected", "client", client.RemoteAddr().String(), "reason", RejectLimit.String(),
			"err", "max_pending reached", "max_pending", cfg.MaxPending)
		return
	}
	raw, req, err := rdp.ReadConnectionRequest(client, start.Add(cfg.InspectTimeout))
	b.pending.Add(-1)
	if err != nil {
		reason := classifyReadError(err)
		b.refuse(client, reason, err, slog.Int("read_bytes", len(raw)))
		return
	}
	rreq := routing.Request{
		Cookie: req.Cookie,
		Login:  rdp.NormalizeLogin(req.Cookie),
		Token:  req.Token,
		Client: clientAddr(client),
		Now:    start,
	}
	d := b.router.Decide(rreq)
	if d.Ambiguous {
		b.counters.Ambiguous.Add(1)
	}
	b.counters.countAffinity(d.Affinity)
	attrs := make([]slog.Attr, 0, 16)
	if req.Token.Kind != rdp.TokenNone && req.Token.Kind != rdp.TokenCookie {
		attrs = append(attrs, slog.String("token", req.Token.Raw))
	}
	attrs = append(attrs,
		slog.String("cookie", req.Cookie), slog.String("login", d.Key),
		slog.String("rule", d.Rule), slog.String("pool", d.Pool),
	)
	if d.Affinity != routing.AffinityNone {
		attrs = append(attrs, slog.String("affinity", d.Affinity))
	}
	if d.Err != nil {
		b.refuse(client, classifyDecision(d.Err), d.Err, append(attrs, slog.String("why", d.Why))...)
		return
	}
	if limit, what := b.sessionLimit(cfg); !b.acquireGlobal(limit) {
		b.refuse(client, RejectLimit, fmt.Errorf("%s reached: %d sessions", what, limit), attrs...)
		return
	}
	defer b.counters.Active.Add(-1)

	srv, conn, tries, err := b.connect(ctx, d.Candidates, raw)
	if err != nil {
		reason := RejectNoServer
		if errors.Is(err, errLocalResources) {
			reason = RejectLimit
		}
		b.refuse(client, reason, err, append(attrs, slog.Int("tries", tries))...)
		return
	}
	defer srv.Release()
	b.router.Placed(d, srv)
	connected := b.now()
	s := &session{id: b.nextID.Add(1), client: client, server: conn}
	if !b.track(s) { // the broker is stopping: it takes no new sessions
		s.close()
		return
	}
	b.counters.Sessions.Add(1)
	if cfg.Keepalive.Idle >= 0 {
		ka := keepaliveConfig(cfg.Keepalive)
		t := time.AfterFunc(keepaliveDelay, func() {
			if b.ownListener {
				client.SetKeepAliveConfig(ka)
			}
			conn.SetKeepAliveConfig(ka)
		})
		defer t.Stop()
	}
	in, out, cause := spliceSession(client, conn, cfg.HalfCloseTimeout)
	s.close()
	b.untrack(s)
	in += int64(len(raw))
	b.counters.BytesIn.Add(uint64(in))
	b.counters.BytesOut.Add(uint64(out))
	b.log.LogAttrs(ctx, slog.LevelInfo, "session", append([]slog.Attr{
		slog.Uint64("id", s.id), slog.String("client", client.RemoteAddr().String())},
		append(attrs,
			slog.String("server", srv.Name), slog.String("server_addr", conn.RemoteAddr().String()),
			slog.Int("tries", tries),
			slog.Duration("connect", connected.Sub(start)), slog.Duration("duration", b.now().Sub(connected)),
			slog.Int64("bytes_in", in), slog.Int64("bytes_out", out), slog.String("end", cause),
		)...)...)
}

// refuse closes a client that will not be proxied, counts why, and logs it.
func (b *Broker) refuse(client *net.TCPConn, reason Reject, err error, attrs ...slog.Attr) {
	b.counters.reject(reason) // before Close: the client may read the counter once closed
	client.Close()
	level := slog.LevelInfo
	if reason == RejectClosed {
		level = slog.LevelDebug // port scanners and TCP health checks of other balancers
	}
	b.log.LogAttrs(context.Background(), level, "rejected", append([]slog.Attr{
		slog.String("client", client.RemoteAddr().String()), slog.String("reason", reason.String()),
		slog.String("err", err.Error())}, attrs...)...)
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

// connect walks the decision's try order: reserve a slot on the server, dial
// it, replay the first packet. A failed attempt is reported to the server's
// passive health and the next candidate is tried. On success the caller owns
// the slot (Release) and the connection.
func (b *Broker) connect(ctx context.Context, candidates []*routing.Server, first []byte) (*routing.Server, *net.TCPConn, int, error) {
	dialer := b.dialer.Load()
	var errs []error
	tries := 0
	for _, srv := range candidates {
		if !srv.Acquire() {
			errs = append(errs, fmt.Errorf("%s: full", srv.Name))
			continue
		}
		tries++
		conn, err := dialAndReplay(ctx, dialer, srv.Address, first)
		if err != nil && routing.LocalExhaustion(err) {
			// This process is out of descriptors or ports: every server
			// would fail the same way, and none is to blame.
			srv.Release()
			return nil, nil, tries, fmt.Errorf("%w: %w", errLocalResources, err)
		}
		if err != nil {
			srv.ReportConnectFailure(b.now())
			srv.Release()
			b.counters.ConnectFailures.Add(1)
			b.log.Warn("server connect failed", "server", srv.Name, "addr", srv.Address, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", srv.Name, err))
			continue
		}
		srv.ReportConnectSuccess()
		return srv, conn, tries, nil
	}
	if len(errs) == 0 {
		return nil, nil, tries, errors.New("no candidate server")
	}
	return nil, nil, tries, errors.Join(errs...)
}

func clientAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
