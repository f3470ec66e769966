package statuspage

import (
	"time"

	"github.com/rdpbroker/rdpbroker/routing"
)

// Source is what the page shows; it is read at every request.
type Source interface {
	// Status returns the broker's state now. It must not block for long.
	Status() Snapshot
}

// Server states, as shown (and as CSS classes).
const (
	StateUp       = routing.StateUp
	StateDown     = routing.StateDown
	StateDraining = routing.StateDraining
	StateMaint    = routing.StateMaint
)

// Snapshot is the broker's state at one instant.
type Snapshot struct {
	// Serving says whether the broker takes clients; NotServing says why
	// not when it does not.
	Serving    bool
	NotServing string
	// Listen is the client-facing address.
	Listen string
	// Version of the broker.
	Version string
	// Active sessions, and clients still sending their first packet.
	Active, Pending int64
	// Pools in configuration order.
	Pools []Pool
	// Refusals counts refused clients by reason since the start.
	Refusals map[string]uint64
	// Directory is the AD sync; nil without one.
	Directory *Directory
	// AffinityEntries is the affinity table's size; nil without a table.
	AffinityEntries *int
	// Peers are the replication peers; empty for a single broker.
	Peers []Peer
	// Config is the configuration's load history; nil: unknown.
	Config *ConfigLoad
}

// Pool is one pool and its servers.
type Pool struct {
	Name, Balance string
	Servers       []Server
}

// Server is one server's state.
type Server struct {
	Name, Address string
	State         string // State*
	Sessions      int
	MaxSessions   int // 0 = unlimited
	Weight        int
	Check         string    // health check kind: rdp, tcp, none
	LastCheck     time.Time // zero: none yet
	LastError     string    // last check's error, or why failed connects keep it out
}

// Directory is the AD sync's state.
type Directory struct {
	// Source of the membership in use: none, snapshot or ldap.
	Source string
	// Server is the DC of the last successful sync.
	Server string
	// DataTime is when the membership in use was read from AD; zero: none.
	DataTime time.Time
	// LastAttempt is when the last sync ended, LastError its error ("" =
	// success). Stale: the membership in use may be out of date.
	LastAttempt time.Time
	LastError   string
	Stale       bool
	// Users indexed; Groups with their member counts.
	Users  int
	Groups []Group
}

// Group is one configured directory group.
type Group struct {
	Name    string
	Members int
	Kept    string // why the shrink guard kept the previous members
}

// Peer is one replication peer.
type Peer struct {
	Name, Addr  string
	Connected   bool
	LastContact time.Time // zero: never
	LastError   string
}

// ConfigLoad is when the configuration in effect was loaded, and how the
// last attempt went.
type ConfigLoad struct {
	LoadedAt  time.Time // the last successful load (start or reload)
	LastOK    bool      // the last attempt succeeded
	LastError string    // its error otherwise
}
