package relay

import (
	"net"
	"time"
)

// KeepaliveDelay is how long after the connect both connections of a
// session get their keep-alive settings. Keep-alive only matters after
// minutes of silence, and most connections (health probes, refused logins,
// scanners through the broker) are gone before then: setting it later
// saves eight setsockopt calls per short connection and delays the first
// probe by at most this.
const KeepaliveDelay = time.Second

// KeepaliveLater applies k to every conn KeepaliveDelay from now, with one
// timer for all of them. The returned stop cancels it (call it when the
// session ends). With keepalive disabled it does nothing.
func KeepaliveLater(k KeepaliveConfig, conns ...*net.TCPConn) (stop func()) {
	if !k.Enabled() {
		return func() {}
	}
	ka := k.Socket()
	t := time.AfterFunc(KeepaliveDelay, func() {
		for _, c := range conns {
			c.SetKeepAliveConfig(ka)
		}
	})
	return func() { t.Stop() }
}
