package routing

import (
	"sync/atomic"
	"time"
)

var _ Policy = (*LeastConn)(nil)

// LeastConn orders servers by sessions per weight, fewest first (compared
// as cross-multiplied integers). Equal servers are ordered from a rotating
// offset, so that a burst of users arriving while counts are equal spreads
// over them. Servers of weight 0 or less are never chosen (Compile gives
// every server a weight of at least 1). The zero LeastConn is ready to use
// and safe for concurrent use.
type LeastConn struct {
	next atomic.Uint32
}

// Order implements Policy.
func (p *LeastConn) Order(servers []*Server, now time.Time, dst []*Server) []*Server {
	n := len(servers)
	if n == 0 {
		return dst
	}
	off := int((p.next.Add(1) - 1) % uint32(n))
	base := len(dst)
	for i := range n {
		s := servers[(off+i)%n]
		if s.Weight <= 0 || !s.Available(now) {
			continue
		}
		// Insertion sort: stable, so the rotation breaks ties.
		dst = append(dst, s)
		load := int64(s.Sessions())
		j := len(dst) - 1
		for ; j > base && lessLoaded(load, s.Weight, dst[j-1]); j-- {
			dst[j] = dst[j-1]
		}
		dst[j] = s
	}
	return dst
}

// lessLoaded reports whether sessions/weight is below o's ratio, compared
// as integers (sessions * o.Weight < o.sessions * weight).
func lessLoaded(sessions int64, weight int, o *Server) bool {
	return sessions*int64(o.Weight) < int64(o.Sessions())*int64(weight)
}
