package affinity

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
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
// an empty table backed by a new file. A store the file system refuses
// (disk full, read-only, I/O error: see ErrUnavailable) is not an error:
// the table serves from memory, keeps every change pending, and the
// flusher opens the store once it can, merges what it holds and writes
// the changes. Close it to flush the last window.
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
		var st *boltStore
		err := os.MkdirAll(filepath.Dir(path), 0o750)
		if err != nil {
			err = unavailableIf(err, fmt.Errorf("affinity: open %s: %w", path, err))
		} else {
			st, err = t.openStore(path, opts.LockTimeout, t.loadEmpty)
		}
		if err != nil && !errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		t.persist = newPersister(t, path, opts.LockTimeout, st)
		if err != nil {
			t.persist.unavailable(err)
		}
	}
	t.startBackground()
	return t, nil
}

// ErrUnavailable marks (wrapped) a store the file system refuses: full,
// read-only, failing, not permitted. Unlike a damaged file it is left as
// it is, and the table keeps its changes in memory until it can write.
var ErrUnavailable = errors.New("store unavailable")

// diskError reports whether err is the file system refusing rather than a
// damaged store file.
func diskError(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO, syscall.EACCES, syscall.EPERM, syscall.ENOENT, syscall.ENOTDIR:
		return true
	}
	return false
}

// unavailableIf returns wrapped, marked with ErrUnavailable when cause is
// the file system refusing.
func unavailableIf(cause, wrapped error) error {
	if diskError(cause) {
		return fmt.Errorf("%w: %w", ErrUnavailable, wrapped)
	}
	return wrapped
}

// openStore opens path and loads it with load, moving an unreadable file
// aside. A file system error is returned wrapping ErrUnavailable, and the
// file is left alone (removed only if this call created it, empty).
func (t *Table) openStore(path string, lockTimeout time.Duration, load func(*boltStore) (int, error)) (*boltStore, error) {
	start := time.Now()
	_, statErr := os.Stat(path)
	existed := statErr == nil
	st, err := openBolt(path, lockTimeout)
	if err == nil {
		var n int
		n, err = load(st)
		if err == nil {
			t.log.Info("affinity: store loaded", "path", path, "entries", n, "duration", time.Since(start))
			return st, nil
		}
		st.close()
	}
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("affinity: open %s: %w (waited %s)", path, ErrLocked, lockTimeout)
	}
	if diskError(err) {
		if !existed {
			if fi, serr := os.Stat(path); serr == nil && fi.Size() == 0 {
				os.Remove(path)
			}
		}
		return nil, fmt.Errorf("affinity: open %s: %w: %w", path, ErrUnavailable, err)
	}
	aside := path + ".corrupt-" + t.now().UTC().Format("20060102T150405.000Z")
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, unavailableIf(rerr, fmt.Errorf("affinity: open %s: %v; moving it aside: %w", path, err, rerr))
	}
	t.log.Error("affinity: store unreadable, moved aside; starting with an empty table",
		"path", path, "moved_to", aside, "err", err)
	st, err = openBolt(path, lockTimeout)
	if err != nil {
		return nil, unavailableIf(err, fmt.Errorf("affinity: open %s: %w", path, err))
	}
	return st, nil
}

// loadEmpty is load for a table that holds nothing yet (Open): on failure
// the table is emptied again.
func (t *Table) loadEmpty(st *boltStore) (int, error) {
	n, err := t.load(st)
	if err != nil {
		t.resetShards()
	}
	return n, err
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
