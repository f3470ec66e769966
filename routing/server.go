package routing

import (
	"sync"
	"sync/atomic"
	"time"
)

// AdminState is the operator's say on a server, independent of its health.
type AdminState int32

const (
	// Active servers take new users.
	Active AdminState = iota
	// Drain servers take no new users; users affined to them and msts
	// routing tokens (reconnections redirected to the server) still
	// reach them.
	Drain
	// Maintenance servers take nothing.
	Maintenance
)

// String returns "active", "drain" or "maintenance".
func (a AdminState) String() string {
	switch a {
	case Active:
		return "active"
	case Drain:
		return "drain"
	case Maintenance:
		return "maintenance"
	}
	return "unknown"
}

// Server is one terminal server of a Table. Its exported fields are the
// compiled configuration and never change; its live state (sessions,
// health, admin state, passive failures) is shared by every Table that
// keeps the server with the same pool, name and address, so a reload does
// not reset it. All methods are safe for concurrent use.
type Server struct {
	// Name is the server's unique name.
	Name string
	// Address is the "host:port" the broker dials.
	Address string
	// Pool is the name of the server's pool.
	Pool string
	// Weight is the server's share of new users, 1..256.
	Weight int
	// MaxSessions caps concurrent sessions; 0 = unlimited.
	MaxSessions int
	// UDPAddress is where the RDP-UDP transport of its sessions is
	// relayed: udp_address, default Address.
	UDPAddress string

	check       string // health check kind; "none" = always healthy
	maxFails    int
	failTimeout time.Duration
	st          *serverState
}

// serverState is the live state of a server; it survives reloads.
type serverState struct {
	name, pool, address string

	sessions  atomic.Int64
	down      atomic.Bool // active health: false = healthy
	admin     atomic.Int32
	fails     atomic.Int64 // passive: consecutive failed connects
	downUntil atomic.Int64 // passive: unix nanoseconds; 0 = not failed

	activeDownAt  atomic.Int64 // unix ns the active check marked it down
	passiveDownAt atomic.Int64 // unix ns the current passive failure began

	weight   atomic.Int32             // admin override of Weight; 0 = configured
	override atomic.Pointer[Override] // the admin override in force; nil = none

	totals totals // counters since start (totals.go)

	mu         sync.Mutex // protects following fields
	lastCheck  time.Time
	lastErr    string
	lastTook   time.Duration // how long the last active check took
	okRun      int           // consecutive successful checks
	failRun    int           // consecutive failed checks
	failsTotal uint64        // failed active checks since start
}

func newServerState(name, pool, address string) *serverState {
	return &serverState{name: name, pool: pool, address: address}
}

// Available reports whether the server may take a new user at now: healthy,
// admin state Active, not full, and not passively failed.
func (s *Server) Available(now time.Time) bool {
	return s.Healthy() && s.AdminState() == Active && !s.full() && !s.passivelyFailed(now)
}

func (s *Server) full() bool {
	return s.MaxSessions > 0 && s.st.sessions.Load() >= int64(s.MaxSessions)
}

// Acquire reserves a session slot; it fails when the server has
// MaxSessions sessions. Every successful Acquire needs one Release.
func (s *Server) Acquire() bool {
	for {
		n := s.st.sessions.Load()
		if s.MaxSessions > 0 && n >= int64(s.MaxSessions) {
			return false
		}
		if s.st.sessions.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release frees a slot reserved by Acquire.
func (s *Server) Release() { s.st.sessions.Add(-1) }

// Sessions is the number of reserved slots (sessions and connects under way).
func (s *Server) Sessions() int { return int(s.st.sessions.Load()) }

// Healthy reports the active health check's verdict (always true for
// check "none").
func (s *Server) Healthy() bool { return s.check == CheckNone || !s.st.down.Load() }

// AdminState returns the server's admin state.
func (s *Server) AdminState() AdminState { return AdminState(s.st.admin.Load()) }

// SetAdminState sets the server's admin state; it survives reloads. It is
// the low-level switch: Router.SetOverride sets it too, records who and
// when, and keeps it across reloads that change the server's address.
func (s *Server) SetAdminState(a AdminState) { s.st.admin.Store(int32(a)) }

// EffectiveWeight is the weight balancing uses: the admin override
// (Router.SetOverride) when there is one, else the configured Weight.
func (s *Server) EffectiveWeight() int {
	if w := s.st.weight.Load(); w > 0 {
		return int(w)
	}
	return s.Weight
}

// ServerStatus is a snapshot of a server for status pages and the admin API.
type ServerStatus struct {
	// Name is the server's name.
	Name string
	// Pool is the name of the server's pool.
	Pool string
	// Address is the server's "host:port".
	Address string
	// Weight is the effective weight: the admin override's, else the
	// configured one.
	Weight int
	// ConfiguredWeight is the weight of the configuration.
	ConfiguredWeight int
	// MaxSessions is the configured session cap (0 = unlimited).
	MaxSessions int
	// Check is the health check kind ("rdp", "tcp" or "none").
	Check string
	// Healthy is the active health check's verdict.
	Healthy bool
	// Admin is the admin state in force (the override's, else active).
	Admin AdminState
	// Override is the admin override in force (who set it, when); nil
	// when there is none.
	Override *Override
	// UntilRestart is set while a drain lasts only until the server is
	// seen down and up again (Override.UntilRestart).
	UntilRestart bool
	// Available says whether the server would take a new user now.
	Available bool
	// Sessions is the number of reserved session slots.
	Sessions int
	// LastCheck is the time of the last active check (zero before the
	// first one).
	LastCheck time.Time
	// LastError is the last active check's error, "" when it succeeded.
	LastError string
	// LastCheckDuration is how long the last active check took.
	LastCheckDuration time.Duration
	// CheckFailures is the number of consecutive failed active checks.
	CheckFailures int
	// ConnectFailures is the number of consecutive failed connects
	// (passive tracking).
	ConnectFailures int
	// FailedUntil is set while failed connects keep the server
	// unavailable: it is unavailable until then.
	FailedUntil time.Time

	// Totals since the broker started; they survive reloads like the
	// rest of the live state.

	// SessionsTotal counts the sessions that ended (Server.CountSession).
	SessionsTotal uint64
	// BytesIn counts bytes from clients to the server (ended sessions).
	BytesIn uint64
	// BytesOut counts bytes from the server to clients (ended sessions).
	BytesOut uint64
	// ConnectFailuresTotal counts failed connects (also with max_fails 0).
	ConnectFailuresTotal uint64
	// CheckFailuresTotal counts failed active health checks.
	CheckFailuresTotal uint64
}

// Status returns a snapshot of the server at now.
func (s *Server) Status(now time.Time) ServerStatus {
	st := ServerStatus{
		Name: s.Name, Pool: s.Pool, Address: s.Address, Weight: s.EffectiveWeight(), ConfiguredWeight: s.Weight,
		MaxSessions: s.MaxSessions, Check: s.check, Healthy: s.Healthy(), Admin: s.AdminState(),
		Available: s.Available(now), Sessions: s.Sessions(), ConnectFailures: int(s.st.fails.Load()),
	}
	if o := s.st.override.Load(); o != nil {
		c := *o
		st.Override, st.UntilRestart = &c, c.UntilRestart
	}
	if s.passivelyFailed(now) {
		st.FailedUntil = time.Unix(0, s.st.downUntil.Load())
	}
	s.st.totals.fill(&st)
	s.st.mu.Lock()
	st.LastCheck, st.LastError, st.CheckFailures = s.st.lastCheck, s.st.lastErr, s.st.failRun
	st.LastCheckDuration, st.CheckFailuresTotal = s.st.lastTook, s.st.failsTotal
	s.st.mu.Unlock()
	return st
}

// Server states (ServerStatus.State), as the metrics and status pages
// name them.
const (
	StateUp       = "up"       // healthy, taking users
	StateDown     = "down"     // health check failed, or failed connects keep it out
	StateDraining = "draining" // admin state drain: returning users only
	StateMaint    = "maint"    // admin state maintenance: takes nothing
)

// State is the server's state in one word: maint first (the operator
// took it out), then down (health check or failed connects), then
// draining, else up.
func (st ServerStatus) State() string {
	switch {
	case st.Admin == Maintenance:
		return StateMaint
	case !st.Healthy || !st.FailedUntil.IsZero():
		return StateDown
	case st.Admin == Drain:
		return StateDraining
	}
	return StateUp
}

// record applies one active check result under the rise/fall rules and
// reports whether the server changed state, and its health afterwards.
func (st *serverState) record(err error, at time.Time, rise, fall int) (changed, healthy bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.lastCheck = at
	healthy = !st.down.Load()
	if err == nil {
		st.lastErr = ""
		st.okRun++
		st.failRun = 0
		if !healthy && st.okRun >= rise {
			st.down.Store(false)
			return true, true
		}
		return false, healthy
	}
	st.lastErr = err.Error()
	st.failsTotal++
	st.failRun++
	st.okRun = 0
	if healthy && st.failRun >= fall {
		st.activeDownAt.Store(at.UnixNano())
		st.down.Store(true)
		return true, false
	}
	return false, healthy
}
