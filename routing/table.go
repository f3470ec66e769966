package routing

import (
	"net/netip"
	"time"
)

// Table is a compiled, immutable routing configuration: pools, servers and
// rules. Decisions read it without locks; reloads replace it (see Router).
// Only the servers' live state changes.
type Table struct {
	noCookieReject    bool
	unknownCollReject bool // unknown_collection: reject
	ambiguous         string
	retries           int

	defaultPool  *Pool
	pools        []*Pool
	poolByName   map[string]*Pool
	servers      []*Server
	serverByName map[string]*Server
	serverByAddr map[netip.AddrPort]*Server // servers with an IP address
	rules        []*rule

	dir       Directory
	aff       Affinity // nil: no affinity
	downGrace time.Duration
	static    *StaticDirectory // from the configuration; dir unless one was given
	learn     *learnPolicy     // no_cookie: learned (learn.go); nil otherwise
	now       func() time.Time
}

// Pool is a compiled pool. Its fields must not be modified.
type Pool struct {
	// Name is the pool's name.
	Name string
	// Balance is the balancing policy name ("leastconn" or "roundrobin").
	Balance string
	// Health is the health check, defaults applied.
	Health HealthConfig
	// Servers are the pool's servers in configuration order.
	Servers []*Server

	policy Policy
}

// Policy returns the pool's balancing policy.
func (p *Pool) Policy() Policy { return p.policy }

// Servers returns every server of every pool, in configuration order.
func (t *Table) Servers() []*Server { return append([]*Server(nil), t.servers...) }

// Pools returns the pools in configuration order.
func (t *Table) Pools() []*Pool { return append([]*Pool(nil), t.pools...) }

// Pool returns the named pool, or nil.
func (t *Table) Pool(name string) *Pool { return t.poolByName[name] }

// Server returns the named server, or nil.
func (t *Table) Server(name string) *Server { return t.serverByName[name] }

// DefaultPool returns the default pool.
func (t *Table) DefaultPool() *Pool { return t.defaultPool }

// ServerByAddr returns the server configured with address ap (an
// IPv4-mapped IPv6 address matches its IPv4 form), or nil. Servers
// configured by host name have no AddrPort and are never returned.
func (t *Table) ServerByAddr(ap netip.AddrPort) *Server {
	if !ap.IsValid() {
		return nil
	}
	return t.serverByAddr[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())]
}

// Directory returns the directory the table resolves logins with.
func (t *Table) Directory() Directory { return t.dir }

// withDirectory returns a copy of t that resolves logins with d, or with
// its configuration's static directory when d is nil. The copy shares
// pools, servers, policies and rules with t.
func (t *Table) withDirectory(d Directory) *Table {
	nt := *t
	nt.dir = d
	if d == nil {
		nt.dir = t.static
	}
	return &nt
}
