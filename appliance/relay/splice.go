package relay

import (
	"context"
	"errors"
	"net"
	"time"
)

// Result is how a relayed session ended.
type Result struct {
	// In is the bytes copied client -> server (after the replayed first
	// packet), Out server -> client.
	In, Out int64
	// End names the side that ended first and how: client_closed,
	// server_closed, client_timeout, server_error, closed_by_broker, ...
	End string
}

// Splice copies both directions between two raw TCP connections until both
// have ended (see the package doc: small packets through a pooled buffer,
// bulk through io.Copy, which splices). A clean EOF half-closes the other
// side and gives it halfClose to finish; an error closes both. Splice does
// not close the connections when both directions ended cleanly: the caller
// does, which sends the last FIN.
func Splice(client, server *net.TCPConn, halfClose time.Duration) Result {
	return NewSession(client, server, halfClose).Run()
}

// EndCause names how one side's direction ended: side + "_closed" (EOF),
// "_timeout" or "_error", or "closed_by_broker" when the broker closed it.
func EndCause(side string, err error) string {
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
