package relay

import (
	"context"
	"fmt"
	"net"
	"time"
)

// noDeadlineWrite is the largest first packet DialAndReplay writes without
// a write deadline.
const noDeadlineWrite = 2048

// Dialer dials terminal servers and replays the client's first packet.
// It sets no keepalive: Keepalives does, once the session has lasted.
type Dialer struct {
	d       net.Dialer
	timeout time.Duration // the connect timeout
}

// NewDialer returns a Dialer with cfg's connect timeout.
func NewDialer(cfg Config) *Dialer {
	return &Dialer{d: net.Dialer{KeepAlive: -1}, timeout: cfg.ConnectTimeout}
}

// DialAndReplay dials addr and writes first (the client's Connection
// Request, byte for byte) within the connect timeout.
//
// ctx is not watched during the connect (see connectCtx): the connect
// timeout bounds it.
func (d *Dialer) DialAndReplay(ctx context.Context, addr string, first []byte) (*net.TCPConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("relay: dial %s: %w", addr, err)
	}
	c, err := d.d.DialContext(connectCtx{Context: ctx, deadline: time.Now().Add(d.timeout)}, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("relay: dial %s: not a TCP connection", addr)
	}
	// A write that fits the send buffer of a fresh connection (never less
	// than 4 KiB on Linux) cannot block: a Connection Request needs no
	// deadline, and setting and clearing one costs two timer updates.
	bounded := len(first) > noDeadlineWrite
	if bounded {
		tc.SetWriteDeadline(time.Now().Add(d.timeout))
	}
	if _, err := tc.Write(first); err != nil {
		tc.Close()
		return nil, fmt.Errorf("relay: replay first packet to %s: %w", addr, err)
	}
	if bounded {
		tc.SetWriteDeadline(time.Time{})
	}
	return tc, nil
}

// connectCtx carries the connect deadline to net's dial, and ctx's values,
// but no cancellation: Done never closes. So net neither derives a timer
// context nor registers a cancel hook with the broker's context for every
// connect, a fifth of the user time of a dial; the deadline still bounds
// the connect (net makes it the socket's write deadline, and a connect
// that misses it fails as a timeout). What is given up is cancelling a
// connect in flight when the broker stops, which the connect timeout
// bounds anyway.
type connectCtx struct {
	context.Context // for Value
	deadline        time.Time
}

// neverDone is connectCtx's Done: not nil, so that net applies the
// deadline, and never closed.
var neverDone = make(chan struct{})

func (c connectCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c connectCtx) Done() <-chan struct{}       { return neverDone }
func (c connectCtx) Err() error                  { return nil }

// AfterFunc is what context.AfterFunc calls on a context of its own kind
// instead of starting a goroutine to watch Done: f never runs.
func (c connectCtx) AfterFunc(f func()) (stop func() bool) { return func() bool { return true } }
