package adminbackend

import (
	"fmt"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/affinity"
	"github.com/rdpbroker/rdpbroker/appliance/admin"
)

// The affinity calls: placements written like the router's (new version,
// replicated, persisted), keyed like the router's decisions.

func (x *Backend) table() (*affinity.Table, error) {
	if t := x.b.Affinity(); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w: no affinity table", admin.ErrNotSupported)
}

func entryOf(e affinity.Entry) admin.AffinityEntry {
	return admin.AffinityEntry{Login: e.Key, Server: e.Server, Expires: e.Expires,
		Written: time.UnixMilli(e.Version.Wall), Node: e.Version.Node}
}

// live returns key's live entry.
func (x *Backend) live(t *affinity.Table, key string) *admin.AffinityEntry {
	if _, ok := t.Lookup(key); !ok {
		return nil
	}
	e, ok := t.Get(key)
	if !ok || e.Deleted {
		return nil
	}
	a := entryOf(e)
	return &a
}

// AffinityGet implements admin.AffinityBackend.
func (x *Backend) AffinityGet(login string) (admin.AffinityEntry, bool, error) {
	t, err := x.table()
	if err != nil {
		return admin.AffinityEntry{}, false, err
	}
	if e := x.live(t, x.keyOf(login)); e != nil {
		return *e, true, nil
	}
	return admin.AffinityEntry{}, false, nil
}

// AffinityList implements admin.AffinityBackend.
func (x *Backend) AffinityList(server string, limit int) ([]admin.AffinityEntry, error) {
	t, err := x.table()
	if err != nil {
		return nil, err
	}
	var out []admin.AffinityEntry
	for _, e := range t.List(affinity.Filter{Server: server, Limit: limit}) {
		out = append(out, entryOf(e))
	}
	return out, nil
}

// AffinitySet implements admin.AffinityBackend: a pin of login to server.
func (x *Backend) AffinitySet(login, server string) (before, after *admin.AffinityEntry, err error) {
	t, err := x.table()
	if err != nil {
		return nil, nil, err
	}
	key := x.keyOf(login)
	if key == "" || affinity.IsReservedKey(key) || strings.TrimSpace(login) == "" {
		return nil, nil, fmt.Errorf("%w: login %q", admin.ErrInvalid, login)
	}
	if err := x.configured(server); err != nil {
		return nil, nil, err
	}
	before = x.live(t, key)
	t.Set(key, server)
	return before, x.live(t, key), nil
}

// AffinityDelete implements admin.AffinityBackend.
func (x *Backend) AffinityDelete(login string) (*admin.AffinityEntry, error) {
	t, err := x.table()
	if err != nil {
		return nil, err
	}
	key := x.keyOf(login)
	before := x.live(t, key)
	if before == nil {
		return nil, fmt.Errorf("%w: no affinity entry for %q", admin.ErrNotFound, login)
	}
	t.Delete(key)
	return before, nil
}

// AffinityMoveServer implements admin.AffinityBackend: every entry on
// from now names to (each a new version, with a fresh expiry).
func (x *Backend) AffinityMoveServer(from, to string) (int, error) {
	t, err := x.table()
	if err != nil {
		return 0, err
	}
	if err := x.configured(to); err != nil {
		return 0, err
	}
	if from == "" || from == to {
		return 0, fmt.Errorf("%w: move-server %q to %q", admin.ErrInvalid, from, to)
	}
	n := 0
	for _, e := range t.List(affinity.Filter{Server: from}) {
		t.Set(e.Key, to)
		n++
	}
	return n, nil
}

// AffinityClearServer implements admin.AffinityBackend.
func (x *Backend) AffinityClearServer(server string) (int, error) {
	t, err := x.table()
	if err != nil {
		return 0, err
	}
	if server == "" {
		return 0, fmt.Errorf("%w: clear-server: no server named", admin.ErrInvalid)
	}
	return t.ClearServer(server), nil
}

// configured is nil when name is a server of the routing configuration.
func (x *Backend) configured(name string) error {
	if tb := x.b.Router().Table(); tb != nil && tb.Server(name) != nil {
		return nil
	}
	return fmt.Errorf("%w: no server %q in the configuration", admin.ErrNotFound, name)
}
