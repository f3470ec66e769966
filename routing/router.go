package routing

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ProbeFunc checks one server: check is "rdp" or "tcp", addr its address.
// It must return when ctx is done.
type ProbeFunc func(ctx context.Context, check, addr string) error

// RouterOptions are a Router's injected dependencies; zero values get
// defaults.
type RouterOptions struct {
	// Logger receives health transitions. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of decisions and health records. Default time.Now.
	Now func() time.Time
	// Directory resolves logins. Default: each configuration's static
	// groups (see Options.Directory). SetDirectory replaces it.
	Directory Directory
	// Affinity is the affinity table decisions consult (nil: none).
	Affinity Affinity
	// Probe runs active health checks. Default: rdp.Probe for "rdp" and a
	// TCP connect for "tcp".
	Probe ProbeFunc
}

// Router holds the current Table, swaps it on reload, and runs the health
// checks of its servers. Its methods are safe for concurrent use.
type Router struct {
	log   *slog.Logger
	now   func() time.Time
	probe ProbeFunc

	table   atomic.Pointer[Table]
	applyMu sync.Mutex // serialises Apply and SetDirectory; protects dir
	dir     Directory
	aff     Affinity

	ovMu      sync.Mutex // protects following fields; taken after applyMu
	overrides map[string]overrideEntry
	onEnded   OverrideEndedFunc

	mu       sync.Mutex // protects following fields
	runCtx   context.Context
	checkers map[*serverState]*checker
	closed   bool
	stop     chan struct{} // closed by Close
	wg       sync.WaitGroup
}

// NewRouter returns a Router without a table: Apply one before deciding.
func NewRouter(opts RouterOptions) *Router {
	r := &Router{
		log: opts.Logger, now: opts.Now, dir: opts.Directory, aff: opts.Affinity, probe: opts.Probe,
		checkers: make(map[*serverState]*checker), overrides: make(map[string]overrideEntry),
		stop: make(chan struct{}),
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.probe == nil {
		r.probe = defaultProbe
	}
	return r
}

// Apply compiles cfg with the router's Directory and clock. On error the
// current table stays. On success the new table replaces it atomically;
// servers with unchanged pool, name and address keep their live state
// (sessions, health, admin state, passive failures; the very *Server when
// nothing else changed either), admin overrides (SetOverride) are put in
// force on the servers they name before the table is published, health
// checks start for new servers and stop for removed or changed ones.
func (r *Router) Apply(cfg Config) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	t, err := compile(cfg, Options{Now: r.now, Directory: r.dir, Affinity: r.aff}, r.table.Load())
	if err != nil {
		return err
	}
	r.ovMu.Lock()
	r.applyOverridesLocked(t)
	r.table.Store(t)
	r.ovMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.syncCheckersLocked(t)
	return nil
}

// SetDirectory makes d resolve logins from now on (the directory sync
// calls it with each new snapshot): the current table is replaced by a
// copy that uses d, sharing its servers and their state, and later Applies
// use d too. Decisions under way keep the directory they started with.
// A nil d returns to each configuration's static groups.
func (r *Router) SetDirectory(d Directory) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.dir = d
	if t := r.table.Load(); t != nil {
		r.table.Store(t.withDirectory(d))
	}
}

// Table returns the current table (nil before the first Apply).
func (r *Router) Table() *Table { return r.table.Load() }

// Decide routes req with the current table.
func (r *Router) Decide(req Request) Decision {
	t := r.table.Load()
	if t == nil {
		return Decision{Err: ErrNoServer, Why: "no routing configuration applied"}
	}
	return t.Decide(req)
}

// Run runs the health checks until ctx is done or the router is closed,
// then stops them and returns. Apply may be called before or during Run.
func (r *Router) Run(ctx context.Context) {
	r.mu.Lock()
	if r.closed || r.runCtx != nil {
		r.mu.Unlock()
		select { // closed, or already running elsewhere
		case <-ctx.Done():
		case <-r.stop:
		}
		return
	}
	r.runCtx = ctx
	if t := r.table.Load(); t != nil {
		r.syncCheckersLocked(t)
	}
	r.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-r.stop:
	}
	r.mu.Lock()
	r.runCtx = nil
	r.stopCheckersLocked()
	r.mu.Unlock()
	r.wg.Wait()
}

// Close stops the health checks and makes Run return. The router still
// decides with its last table.
func (r *Router) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.stop)
		r.stopCheckersLocked()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// checker is one server's running health check.
type checker struct {
	cancel context.CancelFunc
	health HealthConfig
	done   chan struct{} // closed when the goroutine returns
}

// syncCheckersLocked makes the running checkers those of t: one per server
// with a check other than none, restarted when its health config changed.
// Without Run, it only stops checkers.
func (r *Router) syncCheckersLocked(t *Table) {
	want := make(map[*serverState]*Pool)
	if r.runCtx != nil {
		for _, p := range t.pools {
			if p.Health.Check == CheckNone {
				continue
			}
			for _, s := range p.Servers {
				want[s.st] = p
			}
		}
	}
	for st, c := range r.checkers {
		if p, ok := want[st]; !ok || p.Health != c.health {
			c.cancel()
			delete(r.checkers, st)
		}
	}
	for st, p := range want {
		if r.checkers[st] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(r.runCtx)
		c := &checker{cancel: cancel, health: p.Health, done: make(chan struct{})}
		r.checkers[st] = c
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer close(c.done)
			r.runChecks(ctx, st, p.Health)
		}()
	}
}

func (r *Router) stopCheckersLocked() {
	for st, c := range r.checkers {
		c.cancel()
		delete(r.checkers, st)
	}
}

// numCheckers reports the number of running health checks (tests).
func (r *Router) numCheckers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.checkers)
}

// checkerDone returns the channel closed when s's checker returns (tests).
func (r *Router) checkerDone(s *Server) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.checkers[s.st]; c != nil {
		return c.done
	}
	return nil
}
