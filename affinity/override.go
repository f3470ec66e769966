package affinity

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Admin overrides of a server (drain, maintenance, weight) travel in the
// table, so that they are replicated to every peer (same versions, last
// writer wins, tombstones) and persisted across restarts like any entry:
//
//	t.SetOverride("ts01", affinity.Override{State: "drain", By: "uid 0", At: now})
//	o, ok := t.Override("ts01") // on every peer, a moment later
//	t.ClearOverride("ts01")     // a tombstone, replicated too
//
// An override is stored under OverridePrefix+server as a record that never
// answers lookups: flagged deleted (a tombstone) but carrying the encoded
// override where a live entry has its server name. So it is never routed
// to, never listed, never counted among the entries (Len and Stats count
// it as a tombstone), never cleared by ClearServer, and it never expires
// (neither does the plain tombstone that clears it: one key per server
// name ever overridden, a handful). Logins cannot start with NUL, so the
// prefix is out of their way; Place and Set refuse it.

// OverridePrefix starts the key of every override record.
const OverridePrefix = "\x00override/"

// neverMs is the expiry of override records: far beyond any clock, within
// what the decoders accept (1<<62).
const neverMs = int64(1) << 61

// overrideFormat is the first field of an encoded override.
const overrideFormat = "o1"

// maxOverrideBy bounds Override.By so the encoding fits a server name.
const maxOverrideBy = 128

// Override is the operator's say on one server, cluster-wide.
type Override struct {
	// State is "active", "drain" or "maintenance".
	State string
	// Weight replaces the configured weight when > 0.
	Weight int
	// UntilRestart: the override ends by itself once health checks have
	// seen the server go down and come back (a rebooted host).
	UntilRestart bool
	// By is who set it (an audit identity such as "uid 0 (root)").
	By string
	// At is when it was set (millisecond precision once stored).
	At time.Time
}

// IsReservedKey reports whether key is one of the table's own records
// (an override), not a login.
func IsReservedKey(key string) bool { return strings.HasPrefix(key, OverridePrefix) }

// SetOverride records o for server: a new version, persisted and
// replicated.
func (t *Table) SetOverride(server string, o Override) error {
	enc, err := encodeOverride(o)
	if err != nil {
		return fmt.Errorf("affinity: override %s: %w", server, err)
	}
	return t.putOverride(server, enc)
}

// ClearOverride removes server's override (a tombstone, replicated). It
// reports whether there was one.
func (t *Table) ClearOverride(server string) bool {
	if _, ok := t.Override(server); !ok {
		return false
	}
	return t.putOverride(server, "") == nil
}

// Override returns server's override, if one is set.
func (t *Table) Override(server string) (Override, bool) {
	e, ok := t.Get(OverridePrefix + server)
	if !ok || e.Server == "" {
		return Override{}, false
	}
	o, err := decodeOverride(e.Server)
	if err != nil {
		t.log.Warn("affinity: undecodable override ignored", "server", server, "err", err)
		return Override{}, false
	}
	return o, true
}

// Overrides returns the overrides set for the given servers (an admin or
// a poll: one lookup per server).
func (t *Table) Overrides(servers []string) map[string]Override {
	out := make(map[string]Override)
	for _, s := range servers {
		if o, ok := t.Override(s); ok {
			out[s] = o
		}
	}
	return out
}

// putOverride writes server's override record: enc, or a plain tombstone
// when enc is "".
func (t *Table) putOverride(server, enc string) error {
	key := OverridePrefix + server
	if server == "" || len(key) > maxKeyLen {
		return fmt.Errorf("affinity: override: bad server name %q", server)
	}
	s, b := t.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.m[key]
	r := record{server: enc, deleted: true, expires: neverMs, ver: t.clock.Next()}
	t.putLocked(s, b, key, old, ok, r, true)
	return nil
}

// encodeOverride is o as "o1;state;weight;until(0|1);at_ms;by".
func encodeOverride(o Override) (string, error) {
	switch o.State {
	case "active", "drain", "maintenance":
	default:
		return "", fmt.Errorf("state %q: want active, drain or maintenance", o.State)
	}
	if o.Weight < 0 {
		return "", fmt.Errorf("weight %d: negative", o.Weight)
	}
	by := o.By
	if len(by) > maxOverrideBy {
		by = by[:maxOverrideBy]
	}
	until := "0"
	if o.UntilRestart {
		until = "1"
	}
	enc := strings.Join([]string{overrideFormat, o.State, strconv.Itoa(o.Weight), until,
		strconv.FormatInt(o.At.UnixMilli(), 10), by}, ";")
	if len(enc) > maxNameLen {
		return "", fmt.Errorf("encoded override longer than %d bytes", maxNameLen)
	}
	return enc, nil
}

func decodeOverride(s string) (Override, error) {
	f := strings.SplitN(s, ";", 6)
	if len(f) != 6 || f[0] != overrideFormat {
		return Override{}, errors.New("not an " + overrideFormat + " override")
	}
	w, err1 := strconv.Atoi(f[2])
	at, err2 := strconv.ParseInt(f[4], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return Override{}, err
	}
	return Override{State: f[1], Weight: w, UntilRestart: f[3] == "1", By: f[5], At: time.UnixMilli(at)}, nil
}
