package metrics

import (
	"time"

	"github.com/rdpbroker/rdpbroker/routing"
)

// Source is what the Collector reads at every scrape.
type Source interface {
	// Snapshot returns the broker's state now. It is called once per
	// scrape and must not block for long.
	Snapshot() Snapshot
}

// Server states: rdpbroker_server_status has one series per state.
const (
	StateUp       = routing.StateUp
	StateDown     = routing.StateDown
	StateDraining = routing.StateDraining
	StateMaint    = routing.StateMaint
)

// States lists the server states in the order they are exported.
var States = [...]string{StateUp, StateDown, StateDraining, StateMaint}

// Cookie kinds of rdpbroker_cookies_total.
const (
	CookieFull      = "full"      // an mstshash cookie naming one login
	CookieTruncated = "truncated" // a cookie cut by mstsc, resolved through the directory
	CookieNone      = "none"      // no cookie and no routing token
	CookieToken     = "token"     // an msts routing token
)

// Snapshot is the broker's state at one instant. A nil pointer, map or
// slice documented as "nil: unknown" means the source cannot tell: the
// metrics it feeds are not exported (rather than exported as 0).
type Snapshot struct {
	// Servers are every configured server.
	Servers []Server
	// Rejects counts refused clients by reason.
	Rejects map[string]uint64
	// Decisions counts routing decisions by rule and pool. nil: unknown.
	Decisions []Decision
	// AffinityOutcomes counts decisions by affinity outcome.
	AffinityOutcomes map[string]uint64
	// AffinityEntries is the size of the affinity table; nil without one.
	AffinityEntries *int
	// Peers are the other brokers of the replication; empty without.
	Peers []Peer
	// Directory is the AD sync; nil without one.
	Directory *Directory
	// Cookies counts first packets by cookie kind (Cookie*). nil: unknown.
	Cookies map[string]uint64
	// Pending is the number of clients still sending their first packet.
	Pending int64
	// Reload is the last configuration load. nil: unknown.
	Reload *Reload
	// Version is the broker's version (rdpbroker_build_info).
	Version string
}

// Server is one server's state.
type Server struct {
	Pool, Name  string
	State       string // State*
	Sessions    int    // current sessions (and connects under way)
	MaxSessions int    // 0 = unlimited
	Weight      int
	// Stats are the server's counters. nil: unknown.
	Stats *ServerStats
}

// ServerStats are a server's counters since the broker started.
type ServerStats struct {
	Sessions        uint64        // sessions proxied to it
	BytesIn         uint64        // client -> server
	BytesOut        uint64        // server -> client
	ConnectFailures uint64        // failed dials
	CheckFailures   uint64        // failed active health checks
	CheckDuration   time.Duration // how long the last active check took
}

// Decision counts the decisions one rule sent to one pool.
type Decision struct {
	Rule, Pool string
	Count      uint64
}

// Peer is one replication peer.
type Peer struct {
	Name        string
	LastContact time.Time // zero: never in contact
}

// Directory is the AD sync's state.
type Directory struct {
	// DataTime is when the membership in use was read from AD (the last
	// successful sync, or the persisted snapshot's); zero: none yet.
	DataTime time.Time
	// LastDuration is how long the last sync took.
	LastDuration time.Duration
	// Failures counts failed syncs.
	Failures uint64
	// Groups maps each configured group to its member count.
	Groups map[string]int
}

// Reload is the outcome of the configuration loads (the start, reloads).
type Reload struct {
	Success bool      // the last load succeeded
	At      time.Time // when the last successful load was
}
