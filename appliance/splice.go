package appliance

// The data path: dial a server and replay the first packet, then copy both
// directions between the two raw TCP connections.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

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
// (io.Copy on *net.TCPConn uses splice(2) on Linux: no wrapper may sit on
// either side). A clean EOF half-closes the other side; an error closes
// both. It returns the bytes each way and which side ended first.
func spliceSession(client, server *net.TCPConn, halfClose time.Duration) (in, out int64, cause string) {
	var once sync.Once
	first := func(c string) { once.Do(func() { cause = c }) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		in = copyHalf(server, client, halfClose, func(err error) { first(endCause("client", err)) })
	}()
	out = copyHalf(client, server, halfClose, func(err error) { first(endCause("server", err)) })
	<-done
	return in, out, cause
}

// copyHalf copies src to dst until src ends, then half-closes dst (clean
// EOF) and gives the other direction halfClose to finish, or closes both
// (error).
func copyHalf(dst, src *net.TCPConn, halfClose time.Duration, ended func(error)) int64 {
	n, err := io.Copy(dst, src)
	ended(err)
	if err == nil {
		dst.CloseWrite()
		dst.SetReadDeadline(time.Now().Add(halfClose))
	} else {
		src.Close()
		dst.Close()
	}
	return n
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
