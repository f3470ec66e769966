package affinity

import (
	"sort"
	"strings"
)

// Get returns key's entry as held, also when it is a tombstone or expired
// but not yet pruned (see Entry.Deleted and Entry.Expires).
func (t *Table) Get(key string) (Entry, bool) {
	s, _ := t.shardOf(key)
	s.mu.RLock()
	r, ok := s.m[key]
	s.mu.RUnlock()
	if !ok {
		return Entry{}, false
	}
	return r.entry(key), true
}

// Filter selects entries for List. Zero fields select everything.
type Filter struct {
	Server      string // only entries on this server
	LoginPrefix string // only keys starting with this
	Limit       int    // at most this many (after sorting by key); 0: no limit
	Tombstones  bool   // include tombstones and expired entries (never overrides: IsReservedKey)
}

// List returns the entries matching f, sorted by key. It holds one shard
// lock at a time and costs a scan of the table: an admin operation.
func (t *Table) List(f Filter) []Entry {
	nowMs := t.now().UnixMilli()
	var out []Entry
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for k, r := range s.m {
			if (!f.Tombstones && !r.live(nowMs)) || IsReservedKey(k) {
				continue
			}
			if f.Server != "" && r.server != f.Server {
				continue
			}
			if !strings.HasPrefix(k, f.LoginPrefix) {
				continue
			}
			out = append(out, r.entry(k))
		}
		s.mu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit:f.Limit]
	}
	return out
}

// ClearServer deletes (tombstones, replicated) every live entry on server
// and returns how many.
func (t *Table) ClearServer(server string) int {
	nowMs := t.now().UnixMilli()
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, r := range s.m {
			if r.live(nowMs) && r.server == server {
				t.tombstoneLocked(s, hashKey(k)%numBuckets, k, r)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// Len returns the number of entries held, tombstones excluded (entries
// expired since the last prune included).
func (t *Table) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.m) - s.tombs
		s.mu.RUnlock()
	}
	return n
}

// digests returns the digest of every bucket.
func (t *Table) digests() []uint64 {
	out := make([]uint64, numBuckets)
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for j, d := range s.digest {
			out[j*numShards+i] = d
		}
		s.mu.RUnlock()
	}
	return out
}

// bucketRecords returns every record (tombstones included) of the buckets
// marked in want (indexed by bucket).
func (t *Table) bucketRecords(want []bool) []keyed {
	var out []keyed
	for i := range t.shards {
		any := false
		for j := i; j < numBuckets; j += numShards {
			any = any || want[j]
		}
		if !any {
			continue
		}
		s := &t.shards[i]
		s.mu.RLock()
		for k, r := range s.m {
			if want[hashKey(k)%numBuckets] {
				out = append(out, keyed{k, r})
			}
		}
		s.mu.RUnlock()
	}
	return out
}
