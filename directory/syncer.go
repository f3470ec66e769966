package directory

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options are a Syncer's collaborators.
type Options struct {
	// Logger receives sync results and warnings. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// StateDir holds the last good snapshot (SnapshotFile). Empty: no
	// persistence.
	StateDir string
	// Publish receives every new Index (from the persisted snapshot at
	// Start, then from each successful sync). The appliance hands it to
	// routing.Router.SetDirectory. It must not block for long.
	Publish func(*Index)
}

// Status is what operators and metrics see of the sync.
type Status struct {
	// Source of the membership in use: "none", "snapshot" (loaded from
	// disk at start, AD not reached yet) or "ldap".
	Source string
	// Server is the URL of the DC the last successful sync used.
	Server string
	// LastAttempt and LastSuccess are when the last sync and the last
	// successful sync finished; LastDuration is how long the last one took.
	LastAttempt, LastSuccess time.Time
	LastDuration             time.Duration
	// LastError is the last sync's error ("" after a success).
	LastError string
	// Stale: the last sync failed, or only a persisted snapshot is loaded:
	// the membership in use may be out of date.
	Stale bool
	// Syncs and Failures count sync attempts and failed ones.
	Syncs, Failures uint64
	// Errors counts errors by kind (Kind* constants).
	Errors map[string]uint64
	// Users is the number of indexed users; Groups each configured group's
	// DN and member count (and Kept when the shrink guard held it).
	Users  int
	Groups map[string]GroupInfo
	// ShrinkHeld lists the groups whose shrink awaits confirmation.
	ShrinkHeld []string
}

// Syncer keeps a Directory index in step with Active Directory: at Start
// it publishes the persisted snapshot (so a broker started while AD is
// down routes as before), then Run syncs at once, every Interval (+
// jitter) and on Trigger. A failed sync keeps the previous index and marks
// the status stale. Syncs never run concurrently.
type Syncer struct {
	opts    Options
	log     *slog.Logger
	trigger chan bool // confirm shrink

	syncMu sync.Mutex // one sync at a time
	mu     sync.Mutex // guards the fields below
	cfg    Config
	cur    *Index
	st     Status
}

// NewSyncer returns a Syncer for cfg (validate it first).
func NewSyncer(cfg Config, opts Options) *Syncer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Publish == nil {
		opts.Publish = func(*Index) {}
	}
	return &Syncer{opts: opts, log: opts.Logger, cfg: cfg, trigger: make(chan bool, 1),
		st: Status{Source: "none", Errors: map[string]uint64{}}}
}

// snapshotPath is where the last good snapshot lives ("" = nowhere).
func (s *Syncer) snapshotPath() string {
	if s.opts.StateDir == "" {
		return ""
	}
	return filepath.Join(s.opts.StateDir, SnapshotFile)
}

// Start loads and publishes the persisted snapshot, if any. A missing
// file is normal on a first start; an unreadable one is logged and left in
// place (the next successful sync replaces it).
func (s *Syncer) Start() {
	p := s.snapshotPath()
	if p == "" {
		return
	}
	snap, err := LoadSnapshot(p)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Error("directory: persisted snapshot unusable; waiting for the first sync", "err", err)
		}
		return
	}
	idx := NewIndex(snap)
	s.mu.Lock()
	s.cur = idx
	s.st.Source, s.st.Stale = "snapshot", true
	s.st.Users, s.st.Groups = idx.Len(), snap.Groups
	s.mu.Unlock()
	s.log.Info("directory: loaded the persisted snapshot", "path", p, "taken", snap.Taken, "users", idx.Len())
	s.opts.Publish(idx)
}

// Current returns the index in use (nil before any).
func (s *Syncer) Current() *Index {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Status returns a copy of the sync status.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Errors = make(map[string]uint64, len(s.st.Errors))
	for k, v := range s.st.Errors {
		st.Errors[k] = v
	}
	return st
}

// SetConfig replaces the configuration (a reload): it applies from the
// next sync, which is triggered now.
func (s *Syncer) SetConfig(cfg Config) {
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
	s.Trigger(false)
}

// Trigger asks Run for a sync now. confirm accepts shrinks that the
// shrink guard is holding. It never blocks.
func (s *Syncer) Trigger(confirm bool) {
	select {
	case s.trigger <- confirm:
	default:
		if confirm { // upgrade a pending plain trigger
			select {
			case <-s.trigger:
			default:
			}
			select {
			case s.trigger <- true:
			default:
			}
		}
	}
}

// Run syncs now, then every Interval plus a random jitter and on Trigger,
// until ctx is done.
func (s *Syncer) Run(ctx context.Context) {
	confirm := false
	for {
		s.Sync(ctx, confirm)
		s.mu.Lock()
		cfg := s.cfg
		s.mu.Unlock()
		wait := cfg.Interval
		if j := cfg.jitter(); j > 0 {
			wait += rand.N(j)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
			confirm = false
		case confirm = <-s.trigger:
			t.Stop()
		}
	}
}

// Sync runs one sync now (bounded by SyncTimeout) and publishes its
// result; on failure the previous index stays. It returns the sync's
// error.
func (s *Syncer) Sync(ctx context.Context, confirm bool) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	cfg := s.cfg
	var prev *Snapshot
	if s.cur != nil {
		prev = s.cur.snap
	}
	s.mu.Unlock()

	start := s.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.SyncTimeout)
	snap, url, kept, err := fetch(ctx, cfg, prev, confirm, s.log, s.opts.Now)
	cancel()
	took := s.opts.Now().Sub(start)

	s.mu.Lock()
	s.st.Syncs++
	s.st.LastAttempt, s.st.LastDuration = s.opts.Now(), took
	if err != nil {
		s.st.Failures++
		s.st.Errors[errorKind(err)]++
		s.st.LastError, s.st.Stale = err.Error(), true
		s.mu.Unlock()
		s.log.Error("directory: sync failed; keeping the previous membership", "err", err,
			"kind", errorKind(err), "took", took.Round(time.Millisecond), "users", s.Status().Users)
		return err
	}
	idx := NewIndex(snap)
	s.cur = idx
	s.st.Source, s.st.Server, s.st.LastSuccess, s.st.LastError, s.st.Stale = "ldap", url, s.st.LastAttempt, "", false
	s.st.Users, s.st.Groups, s.st.ShrinkHeld = idx.Len(), snap.Groups, kept
	if len(kept) > 0 {
		s.st.Errors[KindShrink]++
	}
	s.mu.Unlock()
	s.opts.Publish(idx)
	s.log.Info("directory: synced", "server", url, "users", idx.Len(), "groups", len(snap.Groups),
		"took", took.Round(time.Millisecond), "shrink_held", kept)

	if p := s.snapshotPath(); p != "" {
		if err := SaveSnapshot(p, snap); err != nil {
			s.mu.Lock()
			s.st.Errors[KindPersist]++
			s.mu.Unlock()
			s.log.Error("directory: could not persist the snapshot (routing uses it from memory)", "err", err)
		}
	}
	return nil
}
