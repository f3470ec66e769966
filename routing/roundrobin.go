package routing

import (
	"slices"
	"sync"
	"time"
)

var _ Policy = (*RoundRobin)(nil)

// RoundRobin is smooth weighted round robin (as in nginx): over a cycle
// each available server comes first Weight times, interleaved (weights
// 5,1,1 give a a b a c a a). The rest of the try order is the same smooth
// order: the other available servers by their current weight, highest
// first (those the next decisions would favour), ties in pool order after
// the first server. Servers of weight 0 or less are never chosen; weights
// are effective weights (an admin override wins). It is safe for
// concurrent use.
type RoundRobin struct {
	mu      sync.Mutex // protects current
	current []int      // per server position: the smooth WRR current weight
}

// NewRoundRobin returns a round robin policy for a pool of n servers.
func NewRoundRobin(n int) *RoundRobin { return &RoundRobin{current: make([]int, n)} }

// Order implements Policy. servers must be the same slice (same length and
// positions) on every call.
func (p *RoundRobin) Order(servers []*Server, now time.Time, dst []*Server) []*Server {
	var buf [32]int
	idx := available(servers, now, buf[:0])
	if len(idx) == 0 {
		return dst
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.current) != len(servers) {
		p.current = make([]int, len(servers))
	}
	return smoothOrder(servers, idx, p.current, dst)
}

// Peek implements Peeker: Order's result without moving the weights.
func (p *RoundRobin) Peek(servers []*Server, now time.Time, dst []*Server) []*Server {
	idx := available(servers, now, nil)
	if len(idx) == 0 {
		return dst
	}
	cur := make([]int, len(servers))
	p.mu.Lock()
	if len(p.current) == len(servers) {
		copy(cur, p.current)
	}
	p.mu.Unlock()
	return smoothOrder(servers, idx, cur, dst)
}

// available appends to idx the positions of the servers that may be
// chosen at now, ascending.
func available(servers []*Server, now time.Time, idx []int) []int {
	for i, s := range servers {
		if s.EffectiveWeight() > 0 && s.Available(now) {
			idx = append(idx, i)
		}
	}
	return idx
}

// smoothOrder advances the smooth WRR current weights cur of the servers
// at positions idx and appends them to dst in try order. Weights are
// effective weights (admin overrides included).
func smoothOrder(servers []*Server, idx, cur []int, dst []*Server) []*Server {
	best, total := 0, 0 // best: index into idx
	for k, i := range idx {
		w := servers[i].EffectiveWeight()
		cur[i] += w
		total += w
		if cur[i] > cur[idx[best]] {
			best = k
		}
	}
	cur[idx[best]] -= total
	// Rotate idx to start with best (ring order), then sort the rest by
	// current weight, highest first; insertion sort keeps ring order for ties.
	slices.Reverse(idx[:best])
	slices.Reverse(idx[best:])
	slices.Reverse(idx)
	for a := 2; a < len(idx); a++ {
		for b := a; b > 1 && cur[idx[b]] > cur[idx[b-1]]; b-- {
			idx[b], idx[b-1] = idx[b-1], idx[b]
		}
	}
	for _, i := range idx {
		dst = append(dst, servers[i])
	}
	return dst
}
