package appliance

import (
	"context"
	"encoding/json"
	"fmt"
	"net"

	"github.com/rdpbroker/rdpbroker/appliance/relay"
	"github.com/rdpbroker/rdpbroker/routing"
)

// AdoptSession takes over a session handed over by the previous process
// (an upgrade): record is its SessionRecord (JSON), client and server its
// two connections, quiesced by the old process. The session is tracked,
// counted, holds a slot on its server (by name, when the server is still
// configured; beyond max_sessions if need be: the session exists) and is
// relayed from where it stopped; it is logged at its end like any other,
// with its total bytes and "upgrades". It fails only on a bad record or a
// stopping broker, and then closes nothing: the caller decides.
func (b *Broker) AdoptSession(record []byte, client, server *net.TCPConn) error {
	var r SessionRecord
	if err := json.Unmarshal(record, &r); err != nil {
		return fmt.Errorf("appliance: adopt session: record: %w", err)
	}
	cfg := b.cfg.Load()
	c := &conn{b: b, cfg: cfg, client: client, start: r.Accepted}
	c.log = sessionLog{ID: r.ID, Client: r.Client, Cookie: r.Cookie, Token: r.Token, Login: r.Login,
		Rule: r.Rule, Pool: r.Pool, Affinity: r.Affinity, decided: true,
		Server: r.Server, ServerAddr: r.ServerAddr, Tries: r.Tries, Connect: r.Connected.Sub(r.Accepted)}
	s := &session{id: r.ID, client: client, server: server, log: &c.log, started: r.Connected,
		accepted: r.Accepted, baseIn: r.BytesIn, baseOut: r.BytesOut, adopted: r.Upgrades + 1}
	s.rs = relay.NewSession(client, server, cfg.Relay.HalfCloseTimeout)
	b.ContinueIDs(r.ID)
	if !b.track(s) {
		return fmt.Errorf("appliance: adopt session %d: %w", r.ID, ErrStopping)
	}
	srv := b.serverNamed(r.Server)
	if srv != nil && !srv.Acquire() {
		b.log.Warn("adopted session beyond its server's max_sessions", "id", r.ID, "server", r.Server)
		srv = nil
	}
	b.counters.Active.Add(1)
	b.counters.Sessions.Add(1)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer c.recoverPanic()
		defer b.counters.Active.Add(-1)
		if srv != nil {
			defer srv.Release()
		}
		c.run(context.Background(), s, b.keepalives.Add(cfg.Relay.Keepalive, client, server))
	}()
	return nil
}

// serverNamed is the configured server called name (nil if none).
func (b *Broker) serverNamed(name string) *routing.Server {
	for _, srv := range b.router.Table().Servers() {
		if srv.Name == name {
			return srv
		}
	}
	return nil
}
