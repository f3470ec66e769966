package relay

import (
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// KeepaliveDelay is how long after the connect both connections of a
// session get their keep-alive settings. Keep-alive only matters after
// minutes of silence, and most connections (health probes, refused logins,
// scanners through the broker) are gone before then: setting it later
// saves eight setsockopt calls per short connection and delays the first
// probe by at most this.
const KeepaliveDelay = time.Second

// Keepalives applies keep-alive settings to connections KeepaliveDelay
// after they were added. It keeps them in the order added, which is the
// order they are due, behind one timer for all of them: adding one is an
// append and stopping it a flag, where a timer per session cost two
// updates of the runtime's timer heap, under its lock, per connection.
// The zero value is ready to use.
type Keepalives struct {
	mu      sync.Mutex   // protects following fields
	pending []*Keepalive // in the order added = the order due
	armed   bool         // a timer will run apply
}

// Keepalive is one session's connections waiting for their settings.
type Keepalive struct {
	due     time.Time
	cfg     net.KeepAliveConfig
	conns   [2]*net.TCPConn
	stopped atomic.Bool
}

// Stop cancels k (call it when the session ends). A nil k, what Add
// returns with keep-alive disabled, does nothing.
func (k *Keepalive) Stop() {
	if k != nil {
		k.stopped.Store(true)
	}
}

// Add applies cfg to conns (one or two) KeepaliveDelay from now, unless
// stopped before. With keep-alive disabled it does nothing and returns nil.
func (ks *Keepalives) Add(cfg KeepaliveConfig, conns ...*net.TCPConn) *Keepalive {
	if !cfg.Enabled() {
		return nil
	}
	k := &Keepalive{due: time.Now().Add(KeepaliveDelay), cfg: cfg.Socket()}
	copy(k.conns[:], conns)
	ks.mu.Lock()
	ks.pending = append(ks.pending, k)
	if !ks.armed {
		ks.armed = true
		time.AfterFunc(KeepaliveDelay, ks.apply)
	}
	ks.mu.Unlock()
	return k
}

// keepaliveBatch is how late a connection may get its settings, so that
// one run of apply serves every connection due within it: connections
// arrive all the time, each due at its own instant.
const keepaliveBatch = KeepaliveDelay / 10

// apply sets keep-alive on the connections now due and not stopped, and
// arms the timer for the next batch.
func (ks *Keepalives) apply() {
	now := time.Now()
	ks.mu.Lock()
	i := 0
	for i < len(ks.pending) && !ks.pending[i].due.After(now) {
		i++ // the due ones lead: pending is in the order due
	}
	due := slices.Clone(ks.pending[:i])
	rest := copy(ks.pending, ks.pending[i:]) // in place: the slice's array is reused
	clear(ks.pending[rest:])
	ks.pending = ks.pending[:rest]
	if ks.armed = len(ks.pending) > 0; ks.armed {
		time.AfterFunc(ks.pending[0].due.Sub(now)+keepaliveBatch, ks.apply)
	}
	ks.mu.Unlock()
	for _, k := range due {
		if k.stopped.Load() {
			continue
		}
		for _, c := range k.conns {
			if c != nil {
				c.SetKeepAliveConfig(k.cfg) // fails harmlessly on a connection closed meanwhile
			}
		}
	}
}
