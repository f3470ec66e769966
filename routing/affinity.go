package routing

import (
	"errors"
	"strings"
	"time"
)

// Affinity remembers which server holds each user's session, so that a
// returning user goes back to it (the affinity package implements it,
// persisted and replicated). Every method must return without blocking on
// disk or network: Decide calls Lookup for every connection.
type Affinity interface {
	// Lookup returns the server name recorded for key.
	Lookup(key string) (server string, ok bool)
	// Place records (or refreshes) that key's session is on server.
	Place(key, server string)
	// Delete forgets key.
	Delete(key string)
}

// DefaultDownGrace is how long an affined server may be down before its
// users are balanced elsewhere.
const DefaultDownGrace = 5 * time.Minute

// ErrAffinityDown: the user's affined server is down, within down_grace:
// the client is refused at once (it retries; the server, and the user's
// session on it, may come back).
var ErrAffinityDown = errors.New("affined server down")

// Affinity outcomes (Decision.Affinity), one per way affinity can weigh
// on a decision; the appliance counts them.
const (
	AffinityNone        = ""                    // no key, no affinity table, or no entry
	AffinityHit         = "hit"                 // entry honoured: its server is the only candidate
	AffinityHitDrain    = "hit_drain"           // honoured although the server drains (returning user)
	AffinityDownGrace   = "down_grace"          // server down for less than down_grace: refused
	AffinityDownExpired = "down_rebalanced"     // server down longer than down_grace: balanced, entry rewritten
	AffinityFull        = "full_rebalanced"     // server at max_sessions: balanced, entry rewritten
	AffinityMaintenance = "dropped_maintenance" // server in maintenance: entry deleted, balanced
	AffinityRemoved     = "dropped_removed"     // server no longer configured: entry deleted, balanced
	AffinityOtherPool   = "dropped_other_pool"  // server not in the pool the rules chose now: entry deleted
)

// decideAffinity applies key's affinity entry, if any, in pool. It
// returns true when the decision is complete (candidates set to the
// affined server, or refused within down_grace), false to balance. With x
// set (Explain) an entry to drop is reported but not deleted.
func (t *Table) decideAffinity(req *Request, d *Decision, pool *Pool, b *strings.Builder, x *explainer) bool {
	name, ok := t.aff.Lookup(d.Key)
	x.affinity(name, ok)
	if !ok {
		return false
	}
	s := t.serverByName[name]
	switch {
	case s == nil:
		d.Affinity = AffinityRemoved
	case s.Pool != pool.Name:
		d.Affinity = AffinityOtherPool
	case s.AdminState() == Maintenance:
		d.Affinity = AffinityMaintenance
	}
	if d.Affinity != AffinityNone {
		if x == nil {
			t.aff.Delete(d.Key)
		}
		b.WriteString("; affinity to ")
		b.WriteString(name)
		b.WriteString(" dropped (")
		b.WriteString(d.Affinity)
		b.WriteString(")")
		return false
	}
	if since, down := s.DownSince(req.Now); down {
		if req.Now.Sub(since) < t.downGrace {
			d.Affinity = AffinityDownGrace
			d.Err = errors.Join(ErrAffinityDown, errors.New("server "+name+" down since "+since.UTC().Format(time.RFC3339)))
			b.WriteString("; affinity to ")
			b.WriteString(name)
			b.WriteString(", down for ")
			b.WriteString(req.Now.Sub(since).Round(time.Second).String())
			b.WriteString(" < down_grace ")
			b.WriteString(t.downGrace.String())
			b.WriteString(": refused, the client retries")
			return true
		}
		d.Affinity = AffinityDownExpired
		b.WriteString("; affinity to ")
		b.WriteString(name)
		b.WriteString(" ignored: down longer than down_grace")
		return false
	}
	if s.full() {
		d.Affinity = AffinityFull
		b.WriteString("; affinity to ")
		b.WriteString(name)
		b.WriteString(" ignored: server full")
		return false
	}
	d.Affinity = AffinityHit
	if s.AdminState() == Drain {
		d.Affinity = AffinityHitDrain
	}
	d.Candidates = []*Server{s}
	b.WriteString(", affinity: ")
	b.WriteString(name)
	if d.Affinity == AffinityHitDrain {
		b.WriteString(" (draining, returning user)")
	}
	return true
}

// Placed records, after a successful connect, that d's user is on s.
// Without an affinity table, a key or for token routes it does nothing.
func (r *Router) Placed(d Decision, s *Server) {
	if r.aff == nil || d.Key == "" || d.Rule == RuleMSTSToken || s == nil {
		return
	}
	r.aff.Place(d.Key, s.Name)
}

// DownSince reports whether the server is down at now (active health
// check failed, or passively failed) and since when.
func (s *Server) DownSince(now time.Time) (time.Time, bool) {
	var since int64
	if !s.Healthy() {
		since = s.st.activeDownAt.Load()
	}
	if s.passivelyFailed(now) {
		if p := s.st.passiveDownAt.Load(); since == 0 || (p != 0 && p < since) {
			since = p
		}
	}
	if !s.Healthy() || s.passivelyFailed(now) {
		if since == 0 {
			return now, true
		}
		return time.Unix(0, since), true
	}
	return time.Time{}, false
}
