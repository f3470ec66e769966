package statuspage

import (
	"maps"
	"sync"
	"time"
)

// history keeps samples of the refusal counters, taken when the page is
// rendered, so the page can show the refusals of the last window rather
// than only the totals since the start.
type history struct {
	window time.Duration

	mu      sync.Mutex // protects samples
	samples []sample   // oldest first
}

type sample struct {
	at     time.Time
	counts map[string]uint64
}

// minSpacing keeps at most one sample per this interval: a page left open
// refreshes every RefreshSeconds; more browsers add nothing.
const minSpacing = time.Second

func (h *history) add(now time.Time, counts map[string]uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addLocked(now, counts)
}

func (h *history) addLocked(now time.Time, counts map[string]uint64) {
	if n := len(h.samples); n > 0 && now.Sub(h.samples[n-1].at) < minSpacing {
		return
	}
	h.samples = append(h.samples, sample{at: now, counts: maps.Clone(counts)})
	// Drop the samples that a newer one, also older than the window, makes
	// useless as a baseline.
	i := 0
	for i+1 < len(h.samples) && now.Sub(h.samples[i+1].at) >= h.window {
		i++
	}
	h.samples = h.samples[i:]
}

// baseline records counts at now and returns the counts to subtract for
// "recent": the newest sample at least window old, else the oldest one,
// and that sample's time (what "recent" covers since).
func (h *history) baseline(now time.Time, counts map[string]uint64) (map[string]uint64, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var base sample
	for _, s := range h.samples {
		if base.at.IsZero() || now.Sub(s.at) >= h.window {
			base = s
		}
	}
	h.addLocked(now, counts)
	if base.at.IsZero() {
		return nil, now
	}
	return base.counts, base.at
}
