package adminbackend

import (
	"time"

	"github.com/rdpbroker/rdpbroker/affinity"
	"github.com/rdpbroker/rdpbroker/routing"
)

// The table (replicated, persisted) is the truth about overrides; the
// router holds the copy decisions read. syncOverrides puts the table's in
// force; overrideEnded writes back the one change the router makes by
// itself (an until-restart drain that ended).

func tableOverride(o routing.Override) affinity.Override {
	return affinity.Override{State: o.State.String(), Weight: o.Weight, UntilRestart: o.UntilRestart, By: o.By, At: o.At}
}

func routerOverride(o affinity.Override) (routing.Override, error) {
	st, err := routing.ParseAdminState(o.State)
	if err != nil {
		return routing.Override{}, err
	}
	return routing.Override{State: st, Weight: o.Weight, UntilRestart: o.UntilRestart, By: o.By, At: o.At}, nil
}

func sameOverride(a, b routing.Override) bool {
	return a.State == b.State && a.Weight == b.Weight && a.UntilRestart == b.UntilRestart && a.By == b.By &&
		a.At.UnixMilli() == b.At.UnixMilli()
}

// syncOverrides makes the router's overrides those of the table, for
// every configured server and every server the router holds one for.
func (x *Backend) syncOverrides() {
	t := x.b.Affinity()
	r := x.b.Router()
	if t == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	held := r.Overrides()
	names := make([]string, 0, len(held))
	for n := range held {
		names = append(names, n)
	}
	if tb := r.Table(); tb != nil {
		for _, s := range tb.Servers() {
			if _, ok := held[s.Name]; !ok {
				names = append(names, s.Name)
			}
		}
	}
	want := t.Overrides(names)
	for _, name := range names {
		x.syncOne(name, want, held)
	}
}

// syncOne puts the table's override of name in force. x.mu must be held.
func (x *Backend) syncOne(name string, want map[string]affinity.Override, held map[string]routing.Override) {
	r := x.b.Router()
	cur, has := held[name]
	w, ok := want[name]
	if !ok {
		if has {
			r.ClearOverride(name)
			delete(x.applied, name)
			x.log.Info("admin override cleared (from the cluster)", "server", name, "was", cur.State.String())
		}
		return
	}
	o, err := routerOverride(w)
	if err != nil {
		x.log.Warn("admin override in the table ignored", "server", name, "err", err)
		return
	}
	if has && sameOverride(o, cur) {
		return
	}
	// An until-restart drain the router just ended: overrideEnded is
	// writing the table; do not put the drain back meanwhile.
	if a, ok := x.applied[name]; ok && o.UntilRestart && sameOverride(a, o) && (!has || cur.By == routing.ByUntilRestart) {
		return
	}
	if _, err := r.SetOverride(name, o); err != nil {
		return // not configured here (yet): applied once a reload adds it
	}
	x.applied[name] = o
	x.log.Info("admin override in force (from the cluster)", "server", name, "state", o.State.String(),
		"weight", o.Weight, "until_restart", o.UntilRestart, "by", o.By, "at", o.At.UTC().Format(time.RFC3339))
}

// overrideEnded is the router's hook: an until-restart drain ended here;
// the table gets the override now in force (or none), for the peers and
// the next start, unless someone changed it meanwhile.
func (x *Backend) overrideEnded(server string, before, after routing.Override, kept bool) {
	t := x.b.Affinity()
	if t == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if cur, ok := t.Override(server); ok {
		if o, err := routerOverride(cur); err != nil || !sameOverride(o, before) {
			return // the table moved on: syncOverrides will apply it
		}
	}
	if kept {
		after.At = time.UnixMilli(after.At.UnixMilli())
		if err := t.SetOverride(server, tableOverride(after)); err == nil {
			x.applied[server] = after
		}
		return
	}
	t.ClearOverride(server)
	delete(x.applied, server)
}
