package affinity

import (
	"fmt"
	"sync"
	"time"
)

// persister writes the table's pending changes to its store.
type persister struct {
	t           *Table
	path        string
	lockTimeout time.Duration

	mu                sync.Mutex // serialises flushes; protects following fields
	st                *boltStore // nil while the store is unavailable (see reopen)
	flushes           uint64
	flushErrors       uint64
	lastErr           error
	lastErrAt         time.Time
	lastErrLogged     time.Time
	lastFlush         time.Time
	lastFlushDuration time.Duration
	lastFlushSize     int
	closed            bool
}

func newPersister(t *Table, path string, lockTimeout time.Duration, st *boltStore) *persister {
	return &persister{t: t, path: path, lockTimeout: lockTimeout, st: st}
}

// errorLogEvery limits repeated flush error logs (the count is in Stats).
const errorLogEvery = time.Minute

// flush writes every change pending now in one fsynced transaction. On
// failure the changes stay pending (newer ones win) for the next attempt.
func (p *persister) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("affinity: flush %s: store closed", p.path)
	}
	t := p.t
	if p.st == nil {
		if err := p.reopen(); err != nil {
			return p.failed(err)
		}
	}
	t.pmu.Lock()
	batch := t.pending
	if len(batch) == 0 {
		t.pmu.Unlock()
		return nil
	}
	t.pending = make(map[string]pendingOp, len(batch))
	t.pmu.Unlock()

	start := t.now()
	err := p.st.write(batch)
	now := t.now()
	if err != nil {
		t.pmu.Lock()
		for k, op := range batch {
			if _, newer := t.pending[k]; !newer {
				t.pending[k] = op
			}
		}
		t.pmu.Unlock()
		return p.failed(fmt.Errorf("affinity: flush %s: %w", p.path, err))
	}
	if p.lastErr != nil {
		t.log.Info("affinity: store writable again", "path", p.path, "failed_flushes", p.flushErrors)
		p.lastErr = nil
	}
	p.flushes++
	p.lastFlush, p.lastFlushDuration, p.lastFlushSize = now, now.Sub(start), len(batch)
	return nil
}

// failed counts and logs a failed flush (the same error at most once per
// errorLogEvery) and returns it. p.mu is held.
func (p *persister) failed(err error) error {
	now := p.t.now()
	p.flushErrors++
	if p.lastErr == nil || p.lastErr.Error() != err.Error() || now.Sub(p.lastErrLogged) >= errorLogEvery {
		p.t.pmu.Lock()
		pending := len(p.t.pending)
		p.t.pmu.Unlock()
		p.t.log.Error("affinity: cannot write the store; serving from memory, will retry",
			"err", err, "pending", pending, "errors", p.flushErrors)
		p.lastErrLogged = now
	}
	p.lastErr, p.lastErrAt = err, now
	return err
}

// startBackground runs the flusher and the pruner until Close.
func (t *Table) startBackground() {
	t.stop = make(chan struct{})
	t.done = make(chan struct{})
	go t.background()
}

func (t *Table) background() {
	defer close(t.done)
	flush := time.NewTicker(t.cfg.FlushInterval)
	defer flush.Stop()
	prune := time.NewTicker(t.cfg.PruneInterval)
	defer prune.Stop()
	var tick <-chan time.Time
	if t.coarseOn {
		coarse := time.NewTicker(coarseTick)
		defer coarse.Stop()
		tick = coarse.C
	}
	for {
		select {
		case <-t.stop:
			return
		case now := <-tick:
			t.coarse.Store(now.UnixMilli())
		case <-flush.C:
			if t.persist != nil {
				t.persist.flush() // logged and counted inside
			}
		case <-prune.C:
			if n := t.prune(); n > 0 {
				t.log.Debug("affinity: pruned expired entries", "count", n)
			}
		}
	}
}

// Flush writes every change made so far to disk now (fsynced) and
// returns when it is durable. The flusher does the same every
// FlushInterval; Flush is for shutdown paths and tests.
func (t *Table) Flush() error {
	if t.persist == nil {
		return nil
	}
	return t.persist.flush()
}

// Prune removes expired entries and tombstones now (the table does it
// every PruneInterval) and returns how many it removed.
func (t *Table) Prune() int { return t.prune() }

// Close stops the flusher, writes the last changes and closes the store.
// The table still answers lookups afterwards but persists nothing.
func (t *Table) Close() error {
	t.closeOnce.Do(func() {
		close(t.stop)
		<-t.done
		if t.persist == nil {
			return
		}
		t.closeErr = t.persist.flush()
		p := t.persist
		p.mu.Lock()
		defer p.mu.Unlock()
		p.closed = true
		if p.st == nil {
			return // never opened: the flush above said what is lost
		}
		if err := p.st.close(); err != nil && t.closeErr == nil {
			t.closeErr = fmt.Errorf("affinity: close %s: %w", p.path, err)
		}
	})
	return t.closeErr
}

// Stats describes the table and its persistence.
type Stats struct {
	Entries           int           // live entries and expired ones not yet pruned
	Tombstones        int           // deletes kept until they expire
	PendingWrites     int           // changes not yet on disk
	Flushes           uint64        // successful flushes
	FlushErrors       uint64        // failed flushes (retried)
	LastFlushError    string        // empty once a flush succeeded again
	LastFlushErrorAt  time.Time     //
	LastFlush         time.Time     //
	LastFlushDuration time.Duration // write + fsync
	LastFlushSize     int           // changes in the last flush
	StoreBytes        int64         // size of the store file
	ReplicationDrops  uint64        // local changes not queued for peers (queue full; anti-entropy repairs)
}

// Stats returns a snapshot of the counters.
func (t *Table) Stats() Stats {
	var s Stats
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		s.Entries += len(sh.m) - sh.tombs
		s.Tombstones += sh.tombs
		sh.mu.RUnlock()
	}
	s.ReplicationDrops = t.outDrops.Load()
	if p := t.persist; p != nil {
		// p.mu first: a flush under way holds it, so its batch counts as
		// pending until it is on disk.
		p.mu.Lock()
		t.pmu.Lock()
		s.PendingWrites = len(t.pending)
		t.pmu.Unlock()
		s.Flushes, s.FlushErrors = p.flushes, p.flushErrors
		if p.lastErr != nil {
			s.LastFlushError = p.lastErr.Error()
		}
		s.LastFlushErrorAt, s.LastFlush = p.lastErrAt, p.lastFlush
		s.LastFlushDuration, s.LastFlushSize = p.lastFlushDuration, p.lastFlushSize
		st := p.st
		if p.closed {
			st = nil
		}
		p.mu.Unlock()
		if st != nil {
			s.StoreBytes = st.size()
		}
	}
	return s
}
