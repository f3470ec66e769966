package routing

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrUnknownServer: an admin override names a server the routing
// configuration in effect does not have.
var ErrUnknownServer = errors.New("routing: unknown server")

// Override is an operator's admin override of one server: its admin state
// and, optionally, its weight. The Router keeps overrides by server name:
// they survive reloads (also one that changes the server's address or
// pool) and apply to a server that a reload adds back under that name.
type Override struct {
	// State is the admin state: Active takes new users, Drain only
	// returning (affined) users and redirected reconnections, Maintenance
	// nobody (affinity entries to it are dropped when their users come).
	State AdminState `json:"state"`
	// Weight replaces the configured weight in balancing, 1..MaxWeight;
	// 0 keeps the configured weight.
	Weight int `json:"weight,omitempty"`
	// UntilRestart, only with State Drain, ends the drain by itself once
	// active health checks have seen the server go down and come up again
	// (a rebooted host): the state returns to Active (the weight override
	// stays). A server already down when the drain is set only needs to
	// come up. Needs an active health check (not "none").
	UntilRestart bool `json:"until_restart,omitempty"`
	// By is who set it (free text for status and audit, e.g. "uid 1000").
	By string `json:"by,omitempty"`
	// At is when it was set; SetOverride fills in the router's clock when
	// zero.
	At time.Time `json:"at"`
}

// ByUntilRestart is Override.By when an until-restart drain ended by
// itself.
const ByUntilRestart = "until-restart"

// overrideEntry is an override and where its until-restart drain is.
type overrideEntry struct {
	o        Override
	seenDown bool // UntilRestart: the server has been seen down since
}

// OverrideEndedFunc is told when the router itself changes an override:
// an until-restart drain ended. before is the override that ended; after
// is the one now in force (State Active, By ByUntilRestart), or kept is
// false when nothing remains (there was no weight override).
type OverrideEndedFunc func(server string, before, after Override, kept bool)

// OnOverrideEnded makes f be called (from a health check goroutine, after
// the change is in force) each time an until-restart drain ends, so that
// the change can be replicated, persisted and audited. nil removes it.
func (r *Router) OnOverrideEnded(f OverrideEndedFunc) {
	r.ovMu.Lock()
	r.onEnded = f
	r.ovMu.Unlock()
}

// SetOverride puts o in force on the named server of the current table
// and keeps it across reloads; it returns the override it replaces (the
// zero Override when there was none). The error wraps ErrUnknownServer
// when the server is not configured; an invalid o is refused.
func (r *Router) SetOverride(server string, o Override) (before Override, err error) {
	if err := o.validate(); err != nil {
		return Override{}, fmt.Errorf("routing: override of %s: %w", server, err)
	}
	if o.At.IsZero() {
		o.At = r.now()
	}
	r.ovMu.Lock()
	defer r.ovMu.Unlock()
	s := r.serverLocked(server)
	if s == nil {
		return Override{}, fmt.Errorf("routing: override of %s: %w", server, ErrUnknownServer)
	}
	if o.UntilRestart && s.check == CheckNone {
		return Override{}, fmt.Errorf("routing: override of %s: until-restart needs an active health check (pool %s has none)", server, s.Pool)
	}
	before = r.overrides[server].o
	r.overrides[server] = overrideEntry{o: o, seenDown: !s.Healthy()}
	s.st.apply(&o)
	return before, nil
}

// ClearOverride removes the named server's override: it is active again,
// with its configured weight. It returns the override removed (zero when
// there was none); the error wraps ErrUnknownServer when the server is
// neither configured nor overridden.
func (r *Router) ClearOverride(server string) (before Override, err error) {
	r.ovMu.Lock()
	defer r.ovMu.Unlock()
	e, had := r.overrides[server]
	s := r.serverLocked(server)
	if s == nil && !had {
		return Override{}, fmt.Errorf("routing: clear override of %s: %w", server, ErrUnknownServer)
	}
	delete(r.overrides, server)
	if s != nil {
		s.st.apply(nil)
	}
	return e.o, nil
}

// Overrides returns every override by server name, including those of
// servers the current configuration lacks (they apply if one comes back).
func (r *Router) Overrides() map[string]Override {
	r.ovMu.Lock()
	defer r.ovMu.Unlock()
	out := make(map[string]Override, len(r.overrides))
	for name, e := range r.overrides {
		out[name] = e.o
	}
	return out
}

// serverLocked returns the named server of the current table, or nil.
// r.ovMu must be held.
func (r *Router) serverLocked(name string) *Server {
	if t := r.table.Load(); t != nil {
		return t.serverByName[name]
	}
	return nil
}

// applyOverridesLocked puts the overrides in force on t's servers, before
// t is published. r.ovMu must be held.
func (r *Router) applyOverridesLocked(t *Table) {
	for name, e := range r.overrides {
		if s := t.serverByName[name]; s != nil {
			s.st.apply(&e.o)
		}
	}
}

// untilRestart moves st's until-restart drain along on a health
// transition: down marks it seen down; up after that ends the drain.
func (r *Router) untilRestart(st *serverState, healthy bool) {
	r.ovMu.Lock()
	e, ok := r.overrides[st.name]
	s := r.serverLocked(st.name)
	if !ok || !e.o.UntilRestart || s == nil || s.st != st {
		r.ovMu.Unlock()
		return
	}
	if !healthy || !e.seenDown {
		e.seenDown = e.seenDown || !healthy
		r.overrides[st.name] = e
		r.ovMu.Unlock()
		return
	}
	before, after := e.o, e.o
	after.State, after.UntilRestart, after.By, after.At = Active, false, ByUntilRestart, r.now()
	kept := after.Weight != 0
	if kept {
		r.overrides[st.name] = overrideEntry{o: after}
		st.apply(&after)
	} else {
		delete(r.overrides, st.name)
		st.apply(nil)
	}
	hook := r.onEnded
	r.ovMu.Unlock()
	r.log.Info("until-restart drain ended: server was down and is up again", "server", st.name, "pool", st.pool,
		"set_by", before.By, "set_at", before.At)
	if hook != nil {
		hook(st.name, before, after, kept)
	}
}

// apply puts o in force on the server's live state (nil: none).
func (st *serverState) apply(o *Override) {
	if o == nil {
		st.admin.Store(int32(Active))
		st.weight.Store(0)
		st.override.Store(nil)
		return
	}
	c := *o
	st.admin.Store(int32(c.State))
	st.weight.Store(int32(c.Weight))
	st.override.Store(&c)
}

func (o *Override) validate() error {
	switch {
	case o.State != Active && o.State != Drain && o.State != Maintenance:
		return fmt.Errorf("admin state %d: must be active, drain or maintenance", o.State)
	case o.Weight < 0 || o.Weight > MaxWeight:
		return fmt.Errorf("weight %d: must be 0 (configured) or 1..%d", o.Weight, MaxWeight)
	case o.UntilRestart && o.State != Drain:
		return fmt.Errorf("until-restart is for drain, not %s", o.State)
	}
	return nil
}

// ParseAdminState parses "active" (or "enabled"), "drain" (or
// "draining") and "maintenance" (or "maint"), ignoring case.
func ParseAdminState(s string) (AdminState, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "active", "enabled":
		return Active, nil
	case "drain", "draining":
		return Drain, nil
	case "maintenance", "maint":
		return Maintenance, nil
	}
	return 0, fmt.Errorf("admin state %q: must be active, drain or maintenance", s)
}

// MarshalText implements encoding.TextMarshaler: AdminState.String.
func (a AdminState) MarshalText() ([]byte, error) {
	if a < Active || a > Maintenance {
		return nil, fmt.Errorf("routing: admin state %d", int32(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseAdminState.
func (a *AdminState) UnmarshalText(b []byte) error {
	v, err := ParseAdminState(string(b))
	if err != nil {
		return fmt.Errorf("routing: %w", err)
	}
	*a = v
	return nil
}
