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
// It sets no keepalive: KeepaliveLater does, once the session has lasted.
type Dialer struct {
	d net.Dialer
}

// NewDialer returns a Dialer with cfg's connect timeout.
func NewDialer(cfg Config) *Dialer {
	return &Dialer{d: net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: -1}}
}

// DialAndReplay dials addr and writes first (the client's Connection
// Request, byte for byte) within the connect timeout.
func (d *Dialer) DialAndReplay(ctx context.Context, addr string, first []byte) (*net.TCPConn, error) {
	c, err := d.d.DialContext(ctx, "tcp", addr)
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
		tc.SetWriteDeadline(time.Now().Add(d.d.Timeout))
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
