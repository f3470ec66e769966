package routing

import (
	"sync"
	"time"
)

var _ Policy = (*RoundRobin)(nil)

// RoundRobin is smooth weighted round robin (as in nginx): over a cycle
// each available server comes first Weight times, interleaved (weights
// 5,1,1 give a a b a c a a). The rest of the try order follows the first
// server in pool order.
type RoundRobin struct {
	mu      sync.Mutex // protects current
	current []int      // per server position: the smooth WRR current weight
}

// NewRoundRobin returns a round robin policy for a pool of n servers.
func NewRoundRobin(n int) *RoundRobin { return &RoundRobin{current: make([]int, n)} }

// Order implements Policy. servers must be the same slice (same length and
// positions) on every call.
func (p *RoundRobin) Order(servers []*Server, now time.Time, dst []*Server) []*Server {
	n := len(servers)
	best, total := -1, 0
	p.mu.Lock()
	if len(p.current) != n {
		p.current = make([]int, n)
	}
	for i, s := range servers {
		if !s.Available(now) {
			continue
		}
		p.current[i] += s.Weight
		total += s.Weight
		if best < 0 || p.current[i] > p.current[best] {
			best = i
		}
	}
	if best >= 0 {
		p.current[best] -= total
	}
	p.mu.Unlock()
	if best < 0 {
		return dst
	}
	dst = append(dst, servers[best])
	for k := 1; k < n; k++ {
		if s := servers[(best+k)%n]; s.Available(now) {
			dst = append(dst, s)
		}
	}
	return dst
}
