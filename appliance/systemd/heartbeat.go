package systemd

import (
	"sync/atomic"
	"time"
)

// DefaultWedgeAfter is how long the accept loop may stay outside Accept
// before the watchdog stops pinging. Its work between two Accepts is a
// counter, a type assertion and a `go` statement (microseconds); the
// longest legitimate stay is the backoff after a failed Accept (EMFILE),
// at most 1 s. 5 s leaves room for a loaded machine and GC pauses.
const DefaultWedgeAfter = 5 * time.Second

// Heartbeat tells whether the accept loop is alive.
//
// A healthy accept loop spends its idle time blocked in Accept, so "did it
// accept something recently?" cannot tell an idle broker from a wedged
// one, and nothing can be posted to a goroutine blocked in Accept. What
// can be observed is where the loop is: the loop calls Enter just before
// Accept and Leave as soon as Accept returns. Inside Accept the loop is
// waiting on the kernel and counts as alive however long it waits; outside
// it, it does a few microseconds of work and goes back. A loop stuck
// outside Accept for longer than a limit (blocked on a lock, spinning on
// an error, exited while the process lives on) is wedged.
//
// What it does not detect: a listener that the kernel stopped delivering
// connections to while Accept still blocks (the process cannot tell that
// from no clients) and a whole process that is frozen (then the watchdog
// goroutine is frozen too, and the pings stop anyway).
//
// The zero value is not usable; NewHeartbeat starts it "outside Accept" at
// creation, so the loop has the limit to reach its first Accept.
type Heartbeat struct {
	now  func() time.Time
	base time.Time
	// state is stateInside, stateStopped, or 1 + the nanoseconds since base
	// at which the loop left Accept (monotonic: wall clock steps do not
	// count).
	state atomic.Int64
}

const (
	stateInside  = 0
	stateStopped = -1
)

// NewHeartbeat returns a Heartbeat using the clock now (nil: time.Now).
func NewHeartbeat(now func() time.Time) *Heartbeat {
	if now == nil {
		now = time.Now
	}
	h := &Heartbeat{now: now, base: now()}
	h.Leave()
	return h
}

// Enter is called by the accept loop just before Accept.
func (h *Heartbeat) Enter() { h.state.Store(stateInside) }

// Leave is called by the accept loop as soon as Accept returns.
func (h *Heartbeat) Leave() { h.state.Store(1 + int64(h.now().Sub(h.base))) }

// Stop is called when the accept loop returns on purpose (shutdown, or
// the listener handed over during an upgrade): a loop that ended by design
// is not wedged, and the watchdog keeps pinging while sessions drain.
func (h *Heartbeat) Stop() { h.state.Store(stateStopped) }

// Outside is how long the loop has been outside Accept: 0 while it waits
// in Accept or after Stop.
func (h *Heartbeat) Outside() time.Duration {
	s := h.state.Load()
	if s == stateInside || s == stateStopped {
		return 0
	}
	return max(h.now().Sub(h.base)-time.Duration(s-1), 0)
}

// Alive reports whether the loop waits in Accept, has stopped on
// purpose, or left Accept less than maxAge ago.
func (h *Heartbeat) Alive(maxAge time.Duration) bool { return h.Outside() < maxAge }
