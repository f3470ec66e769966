package appliance

import (
	"sync"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/relay"
)

// session is one relayed client: its two connections and its record.
type session struct {
	id       uint64
	client   closer
	server   closer
	log      *sessionLog // owned by the connection's goroutine until the session ends
	started  time.Time
	rs       *relay.Session // its relay (quiesce and hand over: handover.go)
	accepted time.Time      // when the client was accepted (conn.start)
	// baseIn and baseOut are the bytes relayed before this relay started:
	// the replayed first packet, or what the previous process relayed.
	baseIn, baseOut int64
	adopted         int // upgrades the session went through

	closeOnce sync.Once
}

type closer interface{ Close() error }

// close closes both connections (once): the relay's copy loops end.
func (s *session) close() {
	s.closeOnce.Do(func() {
		s.client.Close()
		if s.server != nil {
			s.server.Close()
		}
	})
}

// track registers a session; false when the broker is stopping.
func (b *Broker) track(s *session) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		return false
	}
	b.sessions[s.id] = s
	return true
}

func (b *Broker) untrack(s *session) {
	b.mu.Lock()
	delete(b.sessions, s.id)
	b.mu.Unlock()
}

// closeSessions closes every tracked session and refuses new ones.
func (b *Broker) closeSessions() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closing = true
	for _, s := range b.sessions {
		s.close()
	}
}
