package appliance

// The data path: dial a server and replay the first packet, then copy both
// directions between the two raw TCP connections.
//
// Each direction starts in "small" mode, as HAProxy does by default: it
// waits for the source to be readable holding nothing, reads what is there
// into a pooled buffer, writes it and gives the buffer back. The handshake's
// packets (Connection Confirm, TLS, CredSSP) and interactive traffic cost a
// read and a write each, no pipe, and an idle direction holds no buffer and
// no descriptor. The first read that fills the buffer means bulk data: the
// direction hands over to io.Copy between the raw *net.TCPConns, which
// splices on Linux, for the rest of the session.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// keepaliveDelay is how long after the connect both connections of a
// session get their keep-alive settings. Keep-alive only matters after
// minutes of silence, and most connections (health probes, refused logins,
// scanners through the broker) are gone before then: setting it later
// saves eight setsockopt calls per short connection and delays the first
// probe by at most this. One timer per session does both sockets and is
// stopped when the session ends.
const keepaliveDelay = time.Second

// dialAndReplay dials addr with d (which sets no keepalive) and writes the
// client's first packet.
func dialAndReplay(ctx context.Context, d *net.Dialer, addr string, first []byte) (*net.TCPConn, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("dial %s: not a TCP connection", addr)
	}
	tc.SetWriteDeadline(time.Now().Add(d.Timeout))
	if _, err := tc.Write(first); err != nil {
		tc.Close()
		return nil, fmt.Errorf("replay first packet: %w", err)
	}
	tc.SetWriteDeadline(time.Time{})
	return tc, nil
}

// spliceSession copies both directions between two raw TCP connections
// (see the top of the file: small packets through a pooled buffer, bulk
// through io.Copy, which splices). A clean EOF half-closes the other side;
// an error closes both. It returns the bytes each way and which side ended
// first.
func spliceSession(client, server *net.TCPConn, halfClose time.Duration) (in, out int64, cause string) {
	var (
		once  sync.Once
		ended atomic.Int32 // directions that have ended
	)
	first := func(c string) { once.Do(func() { cause = c }) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		in = copyHalf(server, client, halfClose, &ended, func(err error) { first(endCause("client", err)) })
	}()
	out = copyHalf(client, server, halfClose, &ended, func(err error) { first(endCause("server", err)) })
	<-done
	return in, out, cause
}

// copyHalf copies src to dst until src ends, then half-closes dst (clean
// EOF) and gives the other direction halfClose to finish, or closes both
// (error). When the other direction has already ended, the session is over
// and the caller's close sends the FIN: no half-close then.
func copyHalf(dst, src *net.TCPConn, halfClose time.Duration, ended *atomic.Int32, end func(error)) int64 {
	n, err := copyConn(dst, src)
	end(err)
	last := ended.Add(1) == 2
	switch {
	case err != nil:
		src.Close()
		dst.Close()
	case !last:
		dst.CloseWrite()
		dst.SetReadDeadline(time.Now().Add(halfClose))
	}
	return n
}

// smallBufSize is the pooled buffer of the small mode: a TLS record fits.
const smallBufSize = 16 << 10

var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallBufSize); return &b }}

// copyConn copies src to dst like io.Copy (nil error at EOF): small reads
// through a pooled buffer, and from the first read that fills it, io.Copy
// between the raw connections (splice).
func copyConn(dst, src *net.TCPConn) (int64, error) {
	rc, err := src.SyscallConn()
	if err != nil {
		return io.Copy(dst, src)
	}
	var written int64
	for {
		var (
			buf  *[]byte
			n    int
			rerr error
		)
		// Wait for readability holding no buffer: take one only to read,
		// give it back when there was nothing.
		err := rc.Read(func(fd uintptr) bool {
			b := smallBufs.Get().(*[]byte)
			for {
				n, rerr = syscall.Read(int(fd), *b)
				if rerr != syscall.EINTR {
					break
				}
			}
			if rerr == syscall.EAGAIN {
				smallBufs.Put(b)
				return false
			}
			buf = b
			return true
		})
		if err != nil { // closed or read deadline
			return written, err
		}
		if rerr != nil {
			smallBufs.Put(buf)
			return written, &net.OpError{Op: "read", Net: "tcp", Source: src.LocalAddr(), Addr: src.RemoteAddr(), Err: rerr}
		}
		if n <= 0 {
			smallBufs.Put(buf)
			return written, nil // EOF
		}
		m, werr := dst.Write((*buf)[:n])
		written += int64(m)
		smallBufs.Put(buf)
		if werr != nil {
			return written, werr
		}
		if n == smallBufSize { // bulk: splice from here on
			m, err := io.Copy(dst, src)
			return written + m, err
		}
	}
}

func endCause(side string, err error) string {
	switch {
	case err == nil:
		return side + "_closed"
	case errors.Is(err, net.ErrClosed):
		return "closed_by_broker"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return side + "_timeout"
	}
	return side + "_error"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
