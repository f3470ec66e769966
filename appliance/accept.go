package appliance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// acceptGate lets an upgrade stop the accept loop without closing the
// listener (its descriptor goes on in the new process), and start it again
// when the upgrade fails.
type acceptGate struct {
	mu     sync.Mutex // protects following fields
	paused bool
	parked chan struct{} // closed once the loop has stopped accepting
	resume chan struct{} // closed by ResumeAccept
}

type deadliner interface{ SetDeadline(time.Time) error }

// PauseAccept stops accepting clients: the listener stays open (clients
// queue in its backlog) and its Accept returns at once; it returns when
// the loop has stopped, or fails after timeout (and resumes).
func (b *Broker) PauseAccept(timeout time.Duration) error {
	b.mu.Lock()
	ln := b.ln
	b.mu.Unlock()
	dl, ok := ln.(deadliner)
	if !ok {
		return errors.New("appliance: pause accept: listener has no deadline")
	}
	g := &b.gate
	g.mu.Lock()
	if g.paused {
		g.mu.Unlock()
		return errors.New("appliance: pause accept: already paused")
	}
	g.paused, g.parked, g.resume = true, make(chan struct{}), make(chan struct{})
	parked := g.parked
	g.mu.Unlock()
	dl.SetDeadline(time.Unix(1, 0))
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-parked:
		b.log.Info("upgrade: stopped accepting clients")
		return nil
	case <-t.C:
		b.ResumeAccept()
		return fmt.Errorf("appliance: pause accept: the accept loop did not stop within %v", timeout)
	}
}

// ResumeAccept accepts clients again after PauseAccept.
func (b *Broker) ResumeAccept() {
	g := &b.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		return
	}
	g.paused = false
	b.mu.Lock()
	if dl, ok := b.ln.(deadliner); ok {
		dl.SetDeadline(time.Time{})
	}
	b.mu.Unlock()
	close(g.resume)
	b.log.Info("upgrade: accepting clients again")
}

// hold parks the accept loop, after Accept failed, while PauseAccept holds
// it; it reports true when the loop is to accept again, false when it is
// not paused (a real error) or ctx is done.
func (g *acceptGate) hold(ctx context.Context, beat Heartbeat) bool {
	g.mu.Lock()
	if !g.paused || ctx.Err() != nil {
		g.mu.Unlock()
		return false
	}
	select {
	case <-g.parked:
	default:
		close(g.parked)
	}
	resume := g.resume
	g.mu.Unlock()
	beat.Stop() // stopped on purpose: not wedged
	select {
	case <-resume:
		return true
	case <-ctx.Done():
		return false
	}
}

// ListenerFile returns a duplicate of the client listener's descriptor,
// to pass to the new process; the caller closes it.
func (b *Broker) ListenerFile() (*os.File, error) {
	b.mu.Lock()
	ln := b.ln
	b.mu.Unlock()
	f, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, errors.New("appliance: listener file: not a TCP listener")
	}
	return f.File()
}
