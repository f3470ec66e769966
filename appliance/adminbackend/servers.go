package adminbackend

import (
	"fmt"
	"time"

	"github.com/rdpbroker/rdpbroker/affinity"
	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/routing"
)

// Servers implements admin.ServerBackend.
func (x *Backend) Servers(pool string) ([]admin.ServerInfo, error) {
	tb := x.b.Router().Table()
	if tb == nil {
		return []admin.ServerInfo{}, nil
	}
	if pool != "" && tb.Pool(pool) == nil {
		return nil, fmt.Errorf("%w: no pool %q", admin.ErrNotFound, pool)
	}
	counts := x.affinityCounts()
	now := x.opts.Now()
	out := []admin.ServerInfo{}
	for _, s := range tb.Servers() {
		if pool == "" || s.Pool == pool {
			out = append(out, serverInfo(s.Status(now), counts[s.Name]))
		}
	}
	return out, nil
}

// affinityCounts is the number of live entries per server (one scan).
func (x *Backend) affinityCounts() map[string]int {
	counts := map[string]int{}
	if t := x.b.Affinity(); t != nil {
		for _, e := range t.List(affinity.Filter{}) {
			counts[e.Server]++
		}
	}
	return counts
}

func serverInfo(st routing.ServerStatus, entries int) admin.ServerInfo {
	s := admin.ServerInfo{Name: st.Name, Pool: st.Pool, Address: st.Address, State: stateName(st.Admin),
		Health: "up", Check: st.Check, LastCheck: st.LastCheck, LastCheckError: st.LastError,
		Sessions: st.Sessions, MaxSessions: st.MaxSessions, Weight: st.Weight, ConfiguredWeight: st.ConfiguredWeight,
		Affinity: entries}
	if !st.Healthy || !st.FailedUntil.IsZero() {
		s.Health = "down"
	}
	if o := st.Override; o != nil {
		s.Override = &admin.Override{State: stateName(o.State), Weight: o.Weight, UntilRestart: o.UntilRestart, By: o.By, At: o.At}
	}
	return s
}

func stateName(a routing.AdminState) string {
	switch a {
	case routing.Drain:
		return admin.StateDraining
	case routing.Maintenance:
		return admin.StateMaint
	}
	return admin.StateEnabled
}

// ChangeServer implements admin.ServerBackend: the new override is put in
// force here and written to the table for the peers and the next start.
// maint also drops the server's affinity entries.
func (x *Backend) ChangeServer(name string, c admin.ServerChange, who string) (before, after admin.ServerInfo, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	tb := x.b.Router().Table()
	if tb == nil || tb.Server(name) == nil {
		return before, after, fmt.Errorf("%w: no server %q in the configuration", admin.ErrNotFound, name)
	}
	before = x.serverNow(name)
	o, ok := x.b.Router().Overrides()[name]
	if !ok {
		o = routing.Override{State: routing.Active}
	}
	if err := change(&o, c); err != nil {
		return before, after, err
	}
	o.By, o.At = who, time.UnixMilli(x.opts.Now().UnixMilli())
	if err := x.put(name, o); err != nil {
		return before, after, err
	}
	if c.Action == "maint" {
		if t := x.b.Affinity(); t != nil {
			n := t.ClearServer(name)
			x.log.Info("maintenance: affinity entries dropped", "server", name, "entries", n)
		}
	}
	return before, x.serverNow(name), nil
}

// change applies c to o.
func change(o *routing.Override, c admin.ServerChange) error {
	switch c.Action {
	case "drain":
		o.State, o.UntilRestart = routing.Drain, c.UntilRestart
	case "maint":
		o.State, o.UntilRestart = routing.Maintenance, false
	case "enable":
		o.State, o.UntilRestart = routing.Active, false
	case "weight":
		if c.Weight < 0 || c.Weight > routing.MaxWeight {
			return fmt.Errorf("%w: weight %d: want 1..%d, or 0 for the configured weight", admin.ErrInvalid, c.Weight, routing.MaxWeight)
		}
		o.Weight = c.Weight
	default:
		return fmt.Errorf("%w: action %q", admin.ErrInvalid, c.Action)
	}
	return nil
}

// put puts o in force on the router (none when it is the configured
// state) and writes it to the table. x.mu must be held.
func (x *Backend) put(name string, o routing.Override) error {
	r := x.b.Router()
	plain := o.State == routing.Active && o.Weight == 0
	if plain {
		if _, err := r.ClearOverride(name); err != nil {
			return invalid(err)
		}
	} else if _, err := r.SetOverride(name, o); err != nil {
		return invalid(err)
	}
	t := x.b.Affinity()
	if t == nil {
		return nil
	}
	if plain {
		t.ClearOverride(name)
		delete(x.applied, name)
		return nil
	}
	if err := t.SetOverride(name, tableOverride(o)); err != nil {
		return fmt.Errorf("%w: %w", admin.ErrInvalid, err)
	}
	x.applied[name] = o
	return nil
}

func (x *Backend) serverNow(name string) admin.ServerInfo {
	tb := x.b.Router().Table()
	s := tb.Server(name)
	if s == nil {
		return admin.ServerInfo{Name: name}
	}
	n := 0
	if t := x.b.Affinity(); t != nil {
		n = len(t.List(affinity.Filter{Server: name}))
	}
	return serverInfo(s.Status(x.opts.Now()), n)
}
