package affinity

import (
	"strings"
	"time"
)

// Entry is one key of the table as Get and List show it.
type Entry struct {
	Key     string
	Server  string    // server name; empty for a tombstone
	Expires time.Time // a live entry stops matching, a tombstone is pruned, after this
	Version Version
	Deleted bool // tombstone: the key was deleted at Version
}

// record is the value stored per key in memory, on disk and on the wire.
type record struct {
	server  string
	expires int64 // Unix milliseconds
	ver     Version
	deleted bool
}

func (r record) entry(key string) Entry {
	return Entry{Key: key, Server: r.server, Expires: time.UnixMilli(r.expires), Version: r.ver, Deleted: r.deleted}
}

// live reports whether r answers lookups at nowMs.
func (r record) live(nowMs int64) bool { return !r.deleted && nowMs < r.expires }

// newer reports whether a wins over b: the higher version; equal versions
// (which correct writers never produce for different contents) are ordered
// by content so that the merge stays commutative whatever it is fed.
func newer(a, b record) bool {
	if c := a.ver.Compare(b.ver); c != 0 {
		return c > 0
	}
	if a.deleted != b.deleted {
		return a.deleted
	}
	if c := strings.Compare(a.server, b.server); c != 0 {
		return c > 0
	}
	return a.expires > b.expires
}

// hashKey spreads keys over shards and digest buckets; the same function
// on every node (FNV-1a), so digests are comparable.
func hashKey(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= fnvPrime
	}
	return h
}

// digestOf is the contribution of one key's record to its bucket digest
// (XORed in and out as the record changes).
func digestOf(key string, r record) uint64 {
	var b [64]byte
	h := hashKey(key)
	h ^= 0
	h *= fnvPrime
	for _, c := range appendRecord(b[:0], r) {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

const fnvPrime = 1099511628211
