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
// every server a weight of at least 1). Weights are effective weights
// (Server.EffectiveWeight: an admin override wins). The zero LeastConn is ready to use
// and safe for concurrent use.
type LeastConn struct {
	next atomic.Uint32
}

// Order implements Policy.
func (p *LeastConn) Order(servers []*Server, now time.Time, dst []*Server) []*Server {
	if len(servers) == 0 {
		return dst
	}
	return leastConnOrder(servers, now, dst, p.next.Add(1)-1)
}

// Peek implements Peeker: the order the next Order call would return if
// nothing changed meanwhile, without moving the rotation.
func (p *LeastConn) Peek(servers []*Server, now time.Time, dst []*Server) []*Server {
	if len(servers) == 0 {
		return dst
	}
	return leastConnOrder(servers, now, dst, p.next.Load())
}

// leastConnOrder is LeastConn's order with ties broken from rotation rot.
// Weights are effective weights (admin overrides included).
func leastConnOrder(servers []*Server, now time.Time, dst []*Server, rot uint32) []*Server {
	n := len(servers)
	off := int(rot % uint32(n))
	base := len(dst)
	for i := range n {
		s := servers[(off+i)%n]
		w := s.EffectiveWeight()
		if w <= 0 || !s.Available(now) {
			continue
		}
		// Insertion sort: stable, so the rotation breaks ties.
		dst = append(dst, s)
		load := int64(s.Sessions())
		j := len(dst) - 1
		for ; j > base && lessLoaded(load, w, dst[j-1]); j-- {
			dst[j] = dst[j-1]
		}
		dst[j] = s
	}
	return dst
}

// lessLoaded reports whether sessions/weight is below o's ratio, compared
// as integers (sessions * o.weight < o.sessions * weight).
func lessLoaded(sessions int64, weight int, o *Server) bool {
	return sessions*int64(o.EffectiveWeight()) < int64(o.Sessions())*int64(weight)
}
