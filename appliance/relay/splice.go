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
	what := endError
	switch {
	case err == nil:
		what = endClosed
	case errors.Is(err, net.ErrClosed):
		return "closed_by_broker"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		what = endTimeout
	}
	if names, ok := endCauses[side]; ok {
		return names[what]
	}
	return side + [...]string{"_closed", "_timeout", "_error"}[what]
}

const (
	endClosed = iota
	endTimeout
	endError
)

// endCauses are EndCause's answers for the two sides, made once: every
// session ends with one.
var endCauses = map[string][3]string{
	"client": {"client_closed", "client_timeout", "client_error"},
	"server": {"server_closed", "server_timeout", "server_error"},
}

// isTimeout reports whether an error in err's chain says it is a timeout.
// It walks the chain with type assertions: errors.As with an interface
// target goes through reflection, and every reset connection asks.
func isTimeout(err error) bool {
	for err != nil {
		if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
			return true
		}
		err = errors.Unwrap(err)
	}
	return false
}
