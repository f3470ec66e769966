// Package admission decides which new client connections the broker takes
// while they send their first packet, so that one address flooding the
// port cannot lock out everyone else.
//
// Typical use, once per accepted connection:
//
//	var g admission.Gate // one per broker; the zero value is ready
//	v, victim := g.Admit(now, clientIP, conn, admission.Limits{MaxPending: 1024, Config: cfg})
//	if victim != nil {
//		victim.Close() // evicted: its pending read fails at once
//	}
//	if v != admission.Admitted {
//		conn.Close() // refused: v says why
//		return
//	}
//	defer g.Leave(conn)
//	... read the first packet ...
//	g.Done(conn) // no longer pending
//
// Sources are IPv4 addresses (/32) and IPv6 /64 prefixes. Pending slots
// are shared fairly: a source holds at most max_pending_per_source of
// them, and when all max_pending are taken, the oldest pending connection
// of the source holding the most is evicted to make room (a real client
// sends its first packet within milliseconds, so it is never the oldest).
// Optional caps on new connections per second and on concurrent
// connections per source are off by default: many users may share one
// office NAT address.
package admission
