package migrate

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/affinity"
	"github.com/rdpbroker/rdpbroker/rdp"
)

// Seed is one affinity entry to write: a login and its server.
type Seed struct {
	Key     string    // the login as rdpbroker keys it (normalised)
	Server  string    // rdpbroker server name
	Expires time.Time // zero: a full affinity.expire from now
	From    string    // the table key it comes from, for messages
}

// PlanSeed maps stick table entries onto the translation's servers:
// table -> backend, server_key/server_name (else server_id) -> server,
// key -> normalised login, exp -> Expires (from now). A key that a
// bytes(0,N) stick rule truncated to N bytes is also seeded for every
// known login it starts. Two entries naming the same login keep the one
// used last (the longest exp). file names the dump in warnings.
func PlanSeed(res *Result, entries []TableEntry, now time.Time, file string) ([]Seed, []Warning) {
	ws := warnings{file: file}
	stuck := stickBackends(res)
	best := map[string]Seed{}
	var prefixKeys, conflicts []string
	for _, e := range entries {
		be := res.Backends[e.Table]
		if e.Table == "" && len(stuck) == 1 {
			be = res.Backends[stuck[0]]
		}
		if be == nil {
			ws.warn(e.Line, "key %q: table %q is not a backend that became a pool: not seeded", e.Key, e.Table)
			continue
		}
		srv, ok := findServer(be, e)
		if !ok {
			ws.warn(e.Line, "key %q: server (id %d, name %q) is not a translated server of backend %s: not seeded", e.Key, e.ServerID, e.ServerName, be.Name)
			continue
		}
		s := Seed{Server: srv, From: e.Key}
		if e.HasExp {
			s.Expires = now.Add(e.Exp)
		}
		keys := []string{rdp.NormalizeLogin(e.Key).Name}
		if n := be.StickTruncate; n > 0 && len(e.Key) == n {
			prefixKeys = append(prefixKeys, e.Key)
			keys = append(keys, knownStarting(res.KnownLogins, e.Key)...)
		}
		for _, k := range keys {
			if k == "" {
				continue
			}
			s.Key = k
			old, dup := best[k]
			if dup && old.Server != s.Server {
				conflicts = append(conflicts, fmt.Sprintf("%s (%s or %s)", k, old.Server, s.Server))
			}
			if !dup || later(s, old) {
				best[k] = s
			}
		}
	}
	if len(prefixKeys) > 0 {
		ws.warn(0, "%d keys were cut by a bytes(0,N) stick rule (%s): each was seeded for itself and for the known logins starting with it (the login lists, and --known-logins); other users whose login starts with one are balanced afresh", len(prefixKeys), list(prefixKeys, 10))
	}
	if len(conflicts) > 0 {
		ws.warn(0, "%d logins appear under several keys with different servers (case or domain variants, prefixes): the entry used last is seeded: %s", len(conflicts), list(conflicts, 10))
	}
	out := make([]Seed, 0, len(best))
	for _, s := range best {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Seed) int { return strings.Compare(a.Key, b.Key) })
	return out, ws.list
}

// stickBackends are the backends with a stick rule, by name.
func stickBackends(res *Result) []string {
	var out []string
	for name, b := range res.Backends {
		if b.StickLine != 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// StickTables are the names of the tables to dump: the backends with a
// stick rule.
func (r *Result) StickTables() []string { return stickBackends(r) }

// findServer finds e's server in be: by name when the dump has one, else
// by numeric id.
func findServer(be *Backend, e TableEntry) (string, bool) {
	for _, s := range be.Servers {
		if (e.ServerName != "" && s.HAProxyName == e.ServerName) || (e.ServerName == "" && e.ServerID != 0 && s.ID == e.ServerID) {
			return s.Name, s.Name != ""
		}
	}
	return "", false
}

// knownStarting returns the known logins (normalised) longer than prefix
// that start with it, case-insensitively.
func knownStarting(known []string, prefix string) []string {
	p := strings.ToLower(prefix)
	var out []string
	for _, k := range known {
		if n := rdp.NormalizeLogin(k).Name; len(n) > len(p) && strings.HasPrefix(n, p) {
			out = append(out, n)
		}
	}
	return out
}

// later reports whether a was used after b (expires later).
func later(a, b Seed) bool {
	if a.Expires.IsZero() || b.Expires.IsZero() {
		return a.Expires.IsZero() && !b.Expires.IsZero()
	}
	return a.Expires.After(b.Expires)
}

// WriteAffinity writes seeds into the affinity store at path (the state
// directory's affinity.db) with cfg (affinity.expire caps every expiry)
// and returns how many it wrote; entries already expired are skipped. The
// store must not be open elsewhere: stop rdpbroker first (affinity.ErrLocked).
func WriteAffinity(path string, cfg affinity.Config, opts affinity.Options, seeds []Seed) (int, error) {
	t, err := affinity.Open(path, cfg, opts)
	if err != nil {
		return 0, fmt.Errorf("migrate: seed %s: %w", path, err)
	}
	n := 0
	for _, s := range seeds {
		switch {
		case s.Expires.IsZero():
			t.Set(s.Key, s.Server)
			n++
		case t.Seed(s.Key, s.Server, s.Expires):
			n++
		}
	}
	if err := t.Close(); err != nil {
		return n, fmt.Errorf("migrate: seed %s: %w", path, err)
	}
	return n, nil
}
