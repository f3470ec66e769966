package relay

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// EndHandedOver is Result.End of a session whose connections were handed
// to another process (an upgrade): the relay stopped at a clean point and
// left both connections open.
const EndHandedOver = "handed_over"

// Session is one relayed session: Run copies both directions until the
// session ends, like Splice, and meanwhile Quiesce can bring both
// directions to a stop where no byte is held by the relay, to hand the
// two connections over (see quiesce.go).
//
//	s := relay.NewSession(client, server, cfg.HalfCloseTimeout)
//	go func() { res := s.Run(); ... }()
//	if err := s.Quiesce(time.Now().Add(2 * time.Second)); err == nil {
//		// pass client and server on, then
//		s.Release() // Run returns with End == EndHandedOver; or s.Resume()
//	}
type Session struct {
	conns     [2]*net.TCPConn // client, server: conns[d] is the source of direction d
	halfClose time.Duration
	bytes     [2]atomic.Int64 // copied by direction 0 (client -> server, In) and 1 (Out)

	mu        sync.Mutex // protects following fields
	end       string     // Result.End: the first direction to end names it
	ended     [2]bool    // direction d has ended (EOF or error)
	paused    [2]bool    // direction d is parked by a quiesce
	quiescing bool
	handed    bool
	deadline  [2]time.Time  // read deadline of conns[i] outside a quiesce (half-close)
	changed   chan struct{} // made by a waiter (changedLocked), closed when a direction pauses or ends
	wake      chan struct{} // closed when parked directions may go on (Resume, Release)
}

// NewSession prepares a session between two raw TCP connections; Run
// starts it.
func NewSession(client, server *net.TCPConn, halfClose time.Duration) *Session {
	return &Session{conns: [2]*net.TCPConn{client, server}, halfClose: halfClose}
}

// Run copies both directions until both have ended, or until the session
// is handed over (Release). A clean EOF half-closes the other side and
// gives it halfClose to finish; an error closes both. Run does not close
// the connections when both directions ended cleanly, nor after a
// handover: the caller does.
func (s *Session) Run() Result {
	done := make(chan struct{})
	go func() { defer close(done); s.direction(0) }()
	s.direction(1)
	<-done
	s.mu.Lock()
	defer s.mu.Unlock()
	return Result{In: s.bytes[0].Load(), Out: s.bytes[1].Load(), End: s.end}
}

// Bytes returns what has been copied so far, client -> server and server
// -> client. A direction adds its count when a copy returns: exact while
// the session is quiesced, behind during a long splice otherwise.
func (s *Session) Bytes() (in, out int64) { return s.bytes[0].Load(), s.bytes[1].Load() }

// Conns returns the client and server connections.
func (s *Session) Conns() (client, server *net.TCPConn) { return s.conns[0], s.conns[1] }

// what a direction does after a copy returned.
type next int

const (
	goOn   next = iota
	stop        // handed over: leave the connections alone
	finish      // the direction has ended
)

// direction copies conns[d] to conns[1-d] until the direction ends or the
// session is handed over.
func (s *Session) direction(d int) {
	cp := newCopier(s.conns[1-d], s.conns[d])
	side := [2]string{"client", "server"}[d]
	for {
		n, err := cp.copy()
		s.bytes[d].Add(n)
		switch s.after(d, err) {
		case goOn:
			continue
		case stop:
			return
		}
		s.finish(d, side, err, cp.readFailed)
		return
	}
}

// after decides what a direction does once Copy returned err. A read
// deadline that expired is a quiesce (park until Resume or Release), the
// half-close timeout, or a quiesce called off meanwhile (go on).
func (s *Session) after(d int, err error) next {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return finish
	}
	s.mu.Lock()
	if s.quiescing {
		s.paused[d] = true
		s.notifyLocked()
		wake := s.wake
		s.mu.Unlock()
		<-wake
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.handed {
			return stop
		}
		return goOn
	}
	dl := s.deadline[d]
	s.mu.Unlock()
	if !dl.IsZero() && !time.Now().Before(dl) {
		return finish
	}
	return goOn
}

// finish ends direction d: the first to end names the session's end; a
// clean EOF half-closes the other side and gives it halfClose, an error
// closes both: with a reset when the error is a peer's reset (see
// abortOnReset), gracefully otherwise. When the other direction has
// already ended the session is over and the caller's close sends the FIN:
// no half-close then.
func (s *Session) finish(d int, side string, err error, readFailed bool) {
	src, dst := s.conns[d], s.conns[1-d]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.end == "" {
		s.end = EndCause(side, err)
	}
	s.ended[d] = true
	s.notifyLocked()
	switch {
	case err != nil:
		if readFailed { // the source reset: only the other side is to abort
			abortOnReset(err, dst)
		} else {
			abortOnReset(err, src, dst)
		}
		src.Close()
		dst.Close()
	case !s.ended[1-d]:
		dst.CloseWrite()
		s.deadline[1-d] = time.Now().Add(s.halfClose)
		if !s.quiescing { // else Resume sets it
			dst.SetReadDeadline(s.deadline[1-d])
		}
	}
}

// abortOnReset mirrors a peer's abort: when err says one side reset the
// connection, both are set to reset on close (SO_LINGER 0), so the other
// side gets the RST the peer sent, as it would have without the broker,
// and this host keeps no TIME_WAIT socket for it (a client that aborts
// thousands of connections a second would otherwise leave as many toward
// the servers). The side that reset is closed already: linger changes
// nothing there, and is left out when known. Any other error closes
// gracefully.
func abortOnReset(err error, conns ...*net.TCPConn) {
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		return
	}
	for _, c := range conns {
		c.SetLinger(0)
	}
}

// changedLocked returns a channel closed at the next change. Only a
// quiesce waits for one: a session that is never quiesced makes none.
func (s *Session) changedLocked() <-chan struct{} {
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

func (s *Session) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}
