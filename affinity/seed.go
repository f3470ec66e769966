package affinity

import "time"

// Seed records key -> server like Set, but expiring at expires rather than
// Expire after now: an entry imported from another broker (an HAProxy
// stick table, say) keeps the lifetime it had left there. An expires
// beyond now+Expire is cut to now+Expire, as every peer must agree on the
// longest lifetime. It reports false, writing nothing, when expires is not
// in the future or key or server is empty or too long.
func (t *Table) Seed(key, server string, expires time.Time) bool {
	if key == "" || server == "" || len(key) > maxKeyLen || len(server) > maxNameLen {
		return false
	}
	nowMs := t.now().UnixMilli()
	exp := expires.UnixMilli()
	if exp <= nowMs {
		return false
	}
	exp = min(exp, nowMs+t.expireMs)
	s, b := t.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.m[key]
	t.putLocked(s, b, key, old, ok, record{server: server, expires: exp, ver: t.clock.Next()}, true)
	return true
}
