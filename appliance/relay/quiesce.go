package relay

import (
	"errors"
	"fmt"
	"time"
)

// Quiescing a session: both directions stop at a point where the relay
// holds no byte, so that the two connections can be handed to another
// process (an upgrade) which relays them from there. Nothing is lost,
// duplicated or reordered because a direction only stops where it is
// about to read: a read deadline in the past makes the next read of each
// source fail before it takes anything from the socket.
//   - small mode: the buffer read is written whole before the next read;
//   - splice mode: io.Copy splices socket -> pipe -> socket and pumps what
//     it drained into the pipe before it reads again (Go's
//     internal/poll.Splice: spliceDrain then splicePump, the pipe empty
//     between two rounds), so it returns the deadline error with an empty
//     pipe.
// A direction blocked writing (the receiver does not read) cannot stop:
// the quiesce gives up at its deadline and the session goes on.

// Errors of Quiesce, wrapped.
var (
	// ErrQuiesceTimeout: a direction did not stop before the deadline
	// (blocked writing to a peer that does not read).
	ErrQuiesceTimeout = errors.New("not quiesced before the deadline")
	// ErrEnding: a direction has ended (half-closed session, or it ended
	// during the quiesce): the session ends soon by itself.
	ErrEnding = errors.New("session is ending")
	// ErrBusy: a quiesce is already under way, or the session was handed
	// over.
	ErrBusy = errors.New("session already quiesced or handed over")
)

// pastDeadline makes pending and future reads fail at once.
var pastDeadline = time.Unix(1, 0)

// Quiesce stops both directions at a clean point (see above) and returns
// nil once both are parked: the connections hold every byte not yet
// relayed in their kernel buffers, and the relay touches neither until
// Resume or Release. If that does not happen before deadline, or a
// direction ends meanwhile, the session goes on as before and the error
// says why.
func (s *Session) Quiesce(deadline time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quiescing || s.handed {
		return fmt.Errorf("relay: quiesce: %w", ErrBusy)
	}
	if s.ended[0] || s.ended[1] {
		return fmt.Errorf("relay: quiesce: %w", ErrEnding)
	}
	s.quiescing = true
	s.wake = make(chan struct{})
	for _, c := range s.conns {
		c.SetReadDeadline(pastDeadline)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for !(s.paused[0] && s.paused[1]) {
		if s.ended[0] || s.ended[1] {
			s.resumeLocked()
			return fmt.Errorf("relay: quiesce: %w", ErrEnding)
		}
		changed := s.changedLocked()
		s.mu.Unlock()
		select {
		case <-changed:
			s.mu.Lock()
		case <-timer.C:
			s.mu.Lock()
			if s.paused[0] && s.paused[1] {
				return nil
			}
			s.resumeLocked()
			return fmt.Errorf("relay: quiesce: %w", ErrQuiesceTimeout)
		}
	}
	return nil
}

// Resume lets a quiesced session go on relaying (the handover failed).
func (s *Session) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quiescing {
		s.resumeLocked()
	}
}

// resumeLocked restores the read deadlines (none, or the half-close one)
// and wakes the parked directions.
func (s *Session) resumeLocked() {
	s.quiescing = false
	s.paused = [2]bool{}
	for i, c := range s.conns {
		c.SetReadDeadline(s.deadline[i])
	}
	close(s.wake)
}

// Release ends a quiesced session here: Run returns with End
// EndHandedOver and leaves the connections open; the caller closes its
// descriptors once the other process holds its own. It reports false when
// the session was not quiesced.
func (s *Session) Release() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.quiescing {
		return false
	}
	s.quiescing, s.handed = false, true
	s.end = EndHandedOver
	close(s.wake)
	return true
}
