package appliance

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

// The broker's side of an upgrade that keeps every session (the protocol
// is appliance/upgrade's): the old process stops accepting (accept.go),
// releases its affinity store (handover_affinity.go), then quiesces its
// sessions one by one and passes each one's two connections with its
// SessionRecord; the new process adopts them (adopt.go) and relays them
// from where they stopped.

// SessionRecord is what a session carries from one process to the next:
// its log line's fields and its byte counts so far.
type SessionRecord struct {
	ID         uint64    `json:"id"`
	Client     string    `json:"client"`
	Cookie     string    `json:"cookie,omitempty"`
	Token      string    `json:"token,omitempty"`
	Login      string    `json:"login,omitempty"`
	Rule       string    `json:"rule,omitempty"`
	Pool       string    `json:"pool,omitempty"`
	Affinity   string    `json:"affinity,omitempty"`
	Server     string    `json:"server"` // the routing server's name: the new process takes a slot on it
	ServerAddr string    `json:"server_addr"`
	Tries      int       `json:"tries"`
	Accepted   time.Time `json:"accepted"`
	Connected  time.Time `json:"connected"`
	BytesIn    int64     `json:"bytes_in"` // client -> server so far, the first packet included
	BytesOut   int64     `json:"bytes_out"`
	Upgrades   int       `json:"upgrades"` // handovers before this one
}

// ErrNoSession: no session with that id (it ended meanwhile).
var ErrNoSession = errors.New("no such session")

// SessionIDs lists the sessions being relayed, oldest first.
func (b *Broker) SessionIDs() []uint64 {
	b.mu.Lock()
	ids := make([]uint64, 0, len(b.sessions))
	for id := range b.sessions {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	slices.Sort(ids)
	return ids
}

func (b *Broker) sessionByID(id uint64) (*session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.sessions[id]
	if !ok || s.rs == nil {
		return nil, fmt.Errorf("appliance: session %d: %w", id, ErrNoSession)
	}
	return s, nil
}

// QuiesceSession stops session id's relay at a point where the broker
// holds none of its bytes (relay.Session.Quiesce) and returns its record
// (JSON) and its two connections, to pass to the new process. The session
// stays paused until CommitSession (handed over) or ResumeSession. On
// error (deadline passed, the session is ending) it goes on as before.
func (b *Broker) QuiesceSession(id uint64, deadline time.Time) (record []byte, client, server *net.TCPConn, err error) {
	s, err := b.sessionByID(id)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := s.rs.Quiesce(deadline); err != nil {
		return nil, nil, nil, fmt.Errorf("appliance: session %d: %w", id, err)
	}
	in, out := s.rs.Bytes()
	l := s.log
	rec := SessionRecord{ID: s.id, Client: l.Client, Cookie: l.Cookie, Token: l.Token, Login: l.Login,
		Rule: l.Rule, Pool: l.Pool, Affinity: l.Affinity, Server: l.Server, ServerAddr: l.ServerAddr,
		Tries: l.Tries, Accepted: s.accepted, Connected: s.started,
		BytesIn: s.baseIn + in, BytesOut: s.baseOut + out, Upgrades: s.adopted}
	record, err = json.Marshal(rec)
	if err != nil {
		s.rs.Resume()
		return nil, nil, nil, fmt.Errorf("appliance: session %d: record: %w", id, err)
	}
	client, server = s.rs.Conns()
	return record, client, server, nil
}

// CommitSession ends a quiesced session here once the new process holds
// its connections: the relay returns, this process closes its
// descriptors (the sockets stay open in the new process) and logs
// "session handed over".
func (b *Broker) CommitSession(id uint64) {
	if s, err := b.sessionByID(id); err == nil {
		s.rs.Release()
	}
}

// ResumeSession lets a quiesced session go on in this process (the new
// process refused it, or is gone).
func (b *Broker) ResumeSession(id uint64) {
	if s, err := b.sessionByID(id); err == nil {
		s.rs.Resume()
	}
}

// Settled reports whether every client in flight has become a session or
// gone: none is reading its first packet or connecting. After PauseAccept
// no new one arrives, so the sessions listed then are all there will be.
func (b *Broker) Settled() bool {
	b.mu.Lock()
	n := len(b.sessions)
	b.mu.Unlock()
	return b.pending.Load() == 0 && b.counters.Active.Load() <= int64(n)
}

// NextID is the last session id given; the new process continues after
// it (ContinueIDs), so ids stay unique across an upgrade.
func (b *Broker) NextID() uint64 { return b.nextID.Load() }

// ContinueIDs makes the next session ids greater than id.
func (b *Broker) ContinueIDs(id uint64) {
	for {
		cur := b.nextID.Load()
		if cur >= id || b.nextID.CompareAndSwap(cur, id) {
			return
		}
	}
}
