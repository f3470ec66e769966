package affinity

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Keys are spread over numShards locks and numBuckets digest buckets
// (bucket = hash % numBuckets, shard = bucket % numShards, so each bucket
// belongs to one shard).
const (
	numShards  = 64
	numBuckets = 1024
)

type shard struct {
	mu     sync.RWMutex // protects following fields
	m      map[string]record
	tombs  int                            // tombstones in m
	digest [numBuckets / numShards]uint64 // XOR of digestOf per bucket, index bucket/numShards
}

// Table is the login -> server affinity table: in memory for lookups,
// persisted by a background flusher, replicated by a Replicator. All
// methods are safe for concurrent use; Lookup, Place, Set and Delete never
// wait for disk or network.
type Table struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	coarse    atomic.Int64 // unix ms, refreshed every coarseTick; used by Lookup without an injected clock
	coarseOn  bool
	node      string
	clock     *clock
	expireMs  int64
	refreshMs int64
	shards    [numShards]shard

	pmu     sync.Mutex // protects pending
	pending map[string]pendingOp

	persist   *persister // nil: memory only
	replicate atomic.Bool
	omu       sync.Mutex // protects outbox
	outbox    []keyed
	outSignal chan struct{} // capacity 1: the outbox has changes
	outDrops  atomic.Uint64

	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the background loop returned
	closeOnce sync.Once
	closeErr  error
}

// keyed is one key and its record, as queued and sent.
type keyed struct {
	key string
	rec record
}

// pendingOp is a change waiting for the next flush.
type pendingOp struct {
	rec   record
	purge bool // remove the key from disk (pruned)
}

// maxOutbox bounds local changes waiting for the Replicator; beyond it
// they are dropped (counted) and left to anti-entropy.
const maxOutbox = 1 << 20

func newTable(cfg Config, opts Options) *Table {
	t := &Table{
		cfg:       cfg,
		log:       opts.Logger,
		now:       opts.Now,
		node:      opts.Node,
		expireMs:  cfg.Expire.Milliseconds(),
		refreshMs: cfg.refreshAfter().Milliseconds(),
		pending:   make(map[string]pendingOp),
		outSignal: make(chan struct{}, 1),
	}
	t.clock = newClock(t.now, t.node)
	for i := range t.shards {
		t.shards[i].m = make(map[string]record)
	}
	return t
}

func (t *Table) shardOf(key string) (*shard, uint64) {
	h := hashKey(key) % numBuckets
	return &t.shards[h%numShards], h
}

// Node returns this table's node id (the writer id in versions).
func (t *Table) Node() string { return t.node }

// Config returns the configuration the table was opened with.
func (t *Table) Config() Config { return t.cfg }

// Lookup returns the server recorded for key if the entry is live (not
// expired, not deleted). It never blocks on I/O.
func (t *Table) Lookup(key string) (server string, ok bool) {
	s, _ := t.shardOf(key)
	s.mu.RLock()
	r, found := s.m[key]
	s.mu.RUnlock()
	if !found || !r.live(t.lookupNowMs()) {
		return "", false
	}
	return r.server, true
}

// coarseTick is the resolution of Lookup's clock: reading the clock costs
// tens of nanoseconds on some VMs, more than the map lookup, and expiry is
// counted in hours.
const coarseTick = 10 * time.Millisecond

// lookupNowMs is now for Lookup: the coarse clock, or the injected one.
func (t *Table) lookupNowMs() int64 {
	if t.coarseOn {
		return t.coarse.Load()
	}
	return t.now().UnixMilli()
}

// Place records that key's session is on server, or refreshes the entry's
// expiry. If the entry already names server and was written less than
// RefreshAfter ago, Place does nothing (no write, no replication).
func (t *Table) Place(key, server string) {
	t.place(key, server, false)
}

// Set records key -> server unconditionally (admin): always a new version.
func (t *Table) Set(key, server string) {
	t.place(key, server, true)
}

func (t *Table) place(key, server string, force bool) {
	if key == "" || server == "" || len(key) > maxKeyLen || len(server) > maxNameLen || IsReservedKey(key) {
		return
	}
	s, b := t.shardOf(key)
	nowMs := t.now().UnixMilli()
	fresh := func(r record, ok bool) bool {
		return !force && ok && r.live(nowMs) && r.server == server && nowMs-r.ver.Wall < t.refreshMs
	}
	s.mu.RLock()
	old, ok := s.m[key]
	s.mu.RUnlock()
	if fresh(old, ok) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok = s.m[key]
	if fresh(old, ok) {
		return
	}
	r := record{server: server, expires: nowMs + t.expireMs, ver: t.clock.Next()}
	t.putLocked(s, b, key, old, ok, r, true)
}

// Delete forgets key: a tombstone, replicated, kept until Expire from now
// so that older writes arriving late cannot resurrect the entry.
func (t *Table) Delete(key string) {
	s, b := t.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.m[key]
	if !ok || old.deleted {
		return
	}
	t.tombstoneLocked(s, b, key, old)
}

func (t *Table) tombstoneLocked(s *shard, b uint64, key string, old record) {
	r := record{deleted: true, expires: t.now().UnixMilli() + t.expireMs, ver: t.clock.Next()}
	t.putLocked(s, b, key, old, true, r, true)
}

// putLocked stores r for key (old/had: the record it replaces), queues it
// for the disk and, if local, for the peers. s.mu must be held.
func (t *Table) putLocked(s *shard, b uint64, key string, old record, had bool, r record, local bool) {
	d := &s.digest[b/numShards]
	if had {
		*d ^= digestOf(key, old)
		if old.deleted {
			s.tombs--
		}
	}
	*d ^= digestOf(key, r)
	if r.deleted {
		s.tombs++
	}
	s.m[key] = r
	if t.persist != nil {
		t.pmu.Lock()
		t.pending[key] = pendingOp{rec: r}
		t.pmu.Unlock()
	}
	if local && t.replicate.Load() {
		t.omu.Lock()
		if len(t.outbox) < maxOutbox {
			t.outbox = append(t.outbox, keyed{key, r})
		} else {
			t.outDrops.Add(1)
		}
		t.omu.Unlock()
		select {
		case t.outSignal <- struct{}{}:
		default:
		}
	}
}

// merge applies records received from a peer: per key the newer record
// wins (idempotent, commutative); expired ones are ignored. It returns how
// many changed the table. Merged records are persisted, not re-sent.
func (t *Table) merge(recs []keyed) int {
	nowMs := t.now().UnixMilli()
	n := 0
	for _, kr := range recs {
		if kr.rec.expires <= nowMs || kr.key == "" || len(kr.key) > maxKeyLen {
			continue
		}
		t.clock.Observe(kr.rec.ver)
		s, b := t.shardOf(kr.key)
		s.mu.Lock()
		old, ok := s.m[kr.key]
		if !ok || newer(kr.rec, old) {
			t.putLocked(s, b, kr.key, old, ok, kr.rec, false)
			n++
		}
		s.mu.Unlock()
	}
	return n
}

// takeOutbox returns and clears the local changes waiting for peers.
func (t *Table) takeOutbox() []keyed {
	t.omu.Lock()
	defer t.omu.Unlock()
	out := t.outbox
	t.outbox = nil
	return out
}

// prune removes expired entries and tombstones from memory and queues
// their removal from disk. It returns how many were removed.
func (t *Table) prune() int {
	nowMs := t.now().UnixMilli()
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, r := range s.m {
			if r.expires > nowMs {
				continue
			}
			b := hashKey(k) % numBuckets
			s.digest[b/numShards] ^= digestOf(k, r)
			if r.deleted {
				s.tombs--
			}
			delete(s.m, k)
			if t.persist != nil {
				t.pmu.Lock()
				t.pending[k] = pendingOp{purge: true}
				t.pmu.Unlock()
			}
			n++
		}
		s.mu.Unlock()
	}
	return n
}
