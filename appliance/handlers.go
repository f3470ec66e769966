package appliance

import (
	"context"
	"net"
	"sync/atomic"
	"time"
)

// handlers are the goroutines that serve clients: one outlives its client
// and takes the next one the accept loop hands over, when it is waiting
// for one. A new goroutine starts with a small stack and grows it (copying
// it) on the way through routing and the dial, and creating it wakes an
// idle processor: a few microseconds per connection, a tenth of what a
// short connection costs. A handler waits idle for its next client, then
// ends, so a burst leaves no crowd of goroutines behind.
type handlers struct {
	next    chan *net.TCPConn // unbuffered: a send succeeds only to a waiting handler
	serve   func(context.Context, *net.TCPConn)
	idle    time.Duration
	started atomic.Int64 // goroutines started, ever
	live    atomic.Int64 // goroutines running now
	waiting atomic.Int64 // of which waiting for a client
}

// handlerIdle is how long a handler waits for another client.
const handlerIdle = 5 * time.Second

func newHandlers(serve func(context.Context, *net.TCPConn), idle time.Duration) *handlers {
	return &handlers{next: make(chan *net.TCPConn), serve: serve, idle: idle}
}

// dispatch hands client to a waiting handler, or starts one.
func (h *handlers) dispatch(ctx context.Context, client *net.TCPConn) {
	select {
	case h.next <- client:
	default:
		h.started.Add(1)
		h.live.Add(1)
		go h.loop(ctx, client)
	}
}

// loop serves client, then the clients dispatched to it, until none came
// for h.idle or ctx is done.
func (h *handlers) loop(ctx context.Context, client *net.TCPConn) {
	defer h.live.Add(-1)
	idle := time.NewTimer(h.idle)
	defer idle.Stop()
	for {
		h.serve(ctx, client)
		var ok bool
		if client, ok = h.wait(ctx, idle, time.Now()); !ok {
			return
		}
	}
}

// wait returns the next client dispatched within h.idle of since, or
// false. The idle timer is not reset per client (an update of the
// runtime's timer heap, under its lock): when it fires, it is re-armed for
// what is left of h.idle.
func (h *handlers) wait(ctx context.Context, idle *time.Timer, since time.Time) (*net.TCPConn, bool) {
	h.waiting.Add(1)
	defer h.waiting.Add(-1)
	for {
		select {
		case client := <-h.next:
			return client, true
		case <-idle.C:
			if left := h.idle - time.Since(since); left > 0 {
				idle.Reset(left)
				continue
			}
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}
