package affinity

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Options are Open's collaborators; zero fields take the defaults.
type Options struct {
	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default: time.Now
	Node   string           // writer id in versions; default: the host name
	// LockTimeout: how long Open waits for the store's file lock, held by
	// another process (default 1s), before it fails.
	LockTimeout time.Duration
}

// ErrLocked is returned (wrapped) by Open when another process holds the
// store file.
var ErrLocked = errors.New("store file locked by another process")

// Open loads the table stored at path (created if missing; "" keeps the
// table in memory only) and starts its flusher. The table answers lookups
// as soon as Open returns. A store file that cannot be read is renamed
// aside (path.corrupt-<UTC timestamp>), the error logged, and Open returns
// an empty table backed by a new file. Close it to flush the last window.
func Open(path string, cfg Config, opts Options) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("affinity: open %s: %w", path, err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	coarse := opts.Now == nil
	if coarse {
		opts.Now = time.Now
	}
	if opts.Node == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return nil, fmt.Errorf("affinity: open %s: no node id and no host name: %v", path, err)
		}
		opts.Node = h
	}
	if len(opts.Node) > maxNameLen {
		return nil, fmt.Errorf("affinity: open %s: node id longer than %d bytes", path, maxNameLen)
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	t := newTable(cfg, opts)
	t.coarseOn = coarse
	t.coarse.Store(time.Now().UnixMilli())
	if path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("affinity: open %s: %w", path, err)
		}
		st, err := t.openStore(path, opts.LockTimeout)
		if err != nil {
			return nil, err
		}
		t.persist = newPersister(t, st)
	}
	t.startBackground()
	return t, nil
}

// openStore opens and loads path, moving an unreadable file aside.
func (t *Table) openStore(path string, lockTimeout time.Duration) (*boltStore, error) {
	start := time.Now()
	st, err := openBolt(path, lockTimeout)
	if err == nil {
		var n int
		n, err = t.load(st)
		if err == nil {
			t.log.Info("affinity: store loaded", "path", path, "entries", n, "duration", time.Since(start))
			return st, nil
		}
		st.close()
		t.resetShards()
	}
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("affinity: open %s: %w (waited %s)", path, ErrLocked, lockTimeout)
	}
	aside := path + ".corrupt-" + t.now().UTC().Format("20060102T150405.000Z")
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, fmt.Errorf("affinity: open %s: %v; moving it aside: %w", path, err, rerr)
	}
	t.log.Error("affinity: store unreadable, moved aside; starting with an empty table",
		"path", path, "moved_to", aside, "err", err)
	st, err = openBolt(path, lockTimeout)
	if err != nil {
		return nil, fmt.Errorf("affinity: open %s: %w", path, err)
	}
	return st, nil
}

// load fills the (empty) table from st. Expired records and records that
// do not decode are skipped and queued for removal.
func (t *Table) load(st *boltStore) (int, error) {
	nowMs := t.now().UnixMilli()
	in := newInterner()
	var maxVer Version
	n, bad := 0, 0
	err := st.load(func(keys int) {
		per := keys/numShards + keys/numShards/8
		for i := range t.shards {
			t.shards[i].m = make(map[string]record, per)
		}
	}, func(k, v []byte) {
		r, err := decodeRecord(v, in)
		if err != nil || len(k) == 0 || len(k) > maxKeyLen {
			bad++
			t.pending[string(k)] = pendingOp{purge: true}
			return
		}
		key := string(k)
		if r.expires <= nowMs {
			t.pending[key] = pendingOp{purge: true}
			return
		}
		if r.ver.Compare(maxVer) > 0 {
			maxVer = r.ver
		}
		s, b := t.shardOf(key)
		s.m[key] = r
		s.digest[b/numShards] ^= digestOf(key, r)
		if r.deleted {
			s.tombs++
		}
		n++
	})
	if err != nil {
		return 0, fmt.Errorf("affinity: load %s: %w", st.path, err)
	}
	if bad > 0 {
		t.log.Error("affinity: undecodable records dropped from the store", "path", st.path, "count", bad)
	}
	t.clock.Observe(maxVer)
	return n, nil
}

func (t *Table) resetShards() {
	for i := range t.shards {
		s := &t.shards[i]
		s.m, s.tombs, s.digest = make(map[string]record), 0, [numBuckets / numShards]uint64{}
	}
	t.pending = make(map[string]pendingOp)
	t.clock = newClock(t.now, t.node)
}
