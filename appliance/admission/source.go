package admission

import (
	"container/list"
	"net/netip"
	"time"
)

// SourceOf is the source an address counts against: the address itself
// for IPv4 (IPv4-mapped IPv6 included), its /64 for IPv6. The zero Addr
// (unknown) is one source of its own.
func SourceOf(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if !a.IsValid() {
		return netip.Prefix{}
	}
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// source is one source's share: its pending connections, oldest first,
// its connections in all, and its token bucket.
type source struct {
	key     netip.Prefix
	pending list.List // of *entry, in admission order
	conns   int       // admitted and not yet left
	tokens  float64   // token bucket (rate_per_source)
	filled  time.Time // when tokens was last brought up to date
}

// take takes a token from the bucket refilled at rate per second up to
// burst; false when empty.
func (s *source) take(now time.Time, rate, burst float64) bool {
	if s.filled.IsZero() {
		s.tokens = burst
	} else if d := now.Sub(s.filled); d > 0 {
		s.tokens = min(burst, s.tokens+d.Seconds()*rate)
	}
	s.filled = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

// idle reports whether the source can be forgotten: nothing admitted and
// (with a rate) its bucket full again.
func (s *source) idle(now time.Time, rate, burst float64) bool {
	if s.conns > 0 || s.pending.Len() > 0 {
		return false
	}
	return rate == 0 || s.filled.IsZero() || s.tokens+now.Sub(s.filled).Seconds()*rate >= burst
}

// oldest is the source's oldest pending connection (nil: none).
func (s *source) oldest() *entry {
	if e := s.pending.Front(); e != nil {
		return e.Value.(*entry)
	}
	return nil
}
