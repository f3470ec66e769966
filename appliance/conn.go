package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/routing"
)

// conn is one accepted client on its way through the stages of a
// connection: admit -> read -> decide -> reserve -> connect -> relay -> log.
// Each stage is a method; one that stops the client returns a refusal.
type conn struct {
	b      *Broker
	cfg    *Config // the configuration in effect when the client arrived
	client *net.TCPConn
	start  time.Time
	first  []byte     // the Connection Request and what came with it, replayed to the server
	log    sessionLog // everything the session's log line says
}

// refusal is why a stage stopped a client: counted by reason and logged.
type refusal struct {
	reason Reject
	err    error
	quiet  bool        // log at debug level only (floods)
	held   bool        // the client is held open by admission, which closes it later
	attrs  []slog.Attr // stage-specific details
}

// handle serves one accepted client from its first packet to its last byte.
func (b *Broker) handle(ctx context.Context, client *net.TCPConn) {
	defer b.wg.Done()
	c := b.newConn(client)
	defer c.recoverPanic()
	if r := c.serve(ctx); r != nil {
		c.refuse(r)
	}
}

func (b *Broker) newConn(client *net.TCPConn) *conn {
	c := &conn{b: b, cfg: b.cfg.Load(), client: client, start: b.now()}
	c.log.Client = client.RemoteAddr().String()
	if ka := c.cfg.Relay.Keepalive; ka.Enabled() && !b.ownListener {
		client.SetKeepAliveConfig(ka.Socket()) // a listener given to us may have set its own
	}
	return c
}

// serve runs the stages in order.
func (c *conn) serve(ctx context.Context) *refusal {
	if r := c.admit(); r != nil {
		return r
	}
	defer c.leave()
	req, r := c.read()
	if r != nil {
		return r
	}
	d, r := c.decide(req)
	if r != nil {
		return r
	}
	release, r := c.reserve()
	if r != nil {
		return r
	}
	defer release()
	srv, server, r := c.connect(ctx, d)
	if r != nil {
		return r
	}
	defer srv.Release()
	c.b.router.Placed(d, srv)
	c.relay(ctx, srv, server)
	return nil
}

// read reads the first packet within inspect_timeout.
func (c *conn) read() (rdp.ConnRequest, *refusal) {
	defer c.admitted() // admitted by admit
	raw, req, err := rdp.ReadConnectionRequest(c.client, c.start.Add(c.cfg.InspectTimeout))
	if err != nil {
		return rdp.ConnRequest{}, &refusal{reason: classifyReadError(err), err: err,
			attrs: []slog.Attr{slog.Int("read_bytes", len(raw))}}
	}
	c.first = raw
	return req, nil
}

// decide asks the router where the request goes: a pure decision on the
// routing snapshot, no socket touched.
func (c *conn) decide(req rdp.ConnRequest) (routing.Decision, *refusal) {
	login := rdp.NormalizeLogin(req.Cookie)
	d := c.b.router.Decide(routing.Request{
		Cookie: req.Cookie,
		Login:  login,
		Token:  req.Token,
		Client: clientAddr(c.client),
		Now:    c.start,
	})
	c.b.counters.countDecision(req, login, d)
	c.b.learned.count(d.Learned)
	c.log.setRequest(req)
	c.log.setDecision(d)
	if d.Err != nil {
		return d, &refusal{reason: classifyDecision(d.Err), err: d.Err}
	}
	return d, nil
}

// reserve takes a slot under the global session cap (max_sessions and the
// descriptor limit); release gives it back when the session ends.
func (c *conn) reserve() (release func(), r *refusal) {
	limit, what := c.b.sessionLimit(c.cfg)
	if !c.b.acquireGlobal(limit) {
		return nil, &refusal{reason: RejectLimit, err: fmt.Errorf("%s reached: %d sessions", what, limit)}
	}
	return func() { c.b.counters.Active.Add(-1) }, nil
}

// recoverPanic turns a panic while serving one client into a closed
// connection and a counted, logged internal error: one client never takes
// the process down.
func (c *conn) recoverPanic() {
	if p := recover(); p != nil {
		c.b.counters.reject(RejectInternal)
		c.b.log.Error("panic while handling a client; connection closed",
			"client", c.log.Client, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		c.client.Close()
	}
}

// refuse closes a client that will not be proxied, counts why, and logs it.
func (c *conn) refuse(r *refusal) {
	c.b.counters.reject(r.reason) // before Close: the client may read the counter once closed
	if !r.held {
		c.client.Close()
	}
	level := slog.LevelInfo
	if r.quiet || r.reason == RejectClosed {
		level = slog.LevelDebug // floods, port scanners, TCP health checks of other balancers
	}
	if !c.b.log.Enabled(context.Background(), level) {
		return
	}
	attrs := append([]slog.Attr{slog.String("client", c.log.Client), slog.String("reason", r.reason.String()),
		slog.String("err", r.err.Error())}, r.attrs...)
	c.b.log.LogAttrs(context.Background(), level, "rejected", append(attrs, c.log.decisionAttrs()...)...)
}
