package appliance

import (
	"errors"
	"runtime/metrics"
	"sync"
	"syscall"

	"github.com/rdpbroker/rdpbroker/appliance/relay"
)

// A proxied session holds two descriptors, the client's socket and the
// server's, plus a pipe (two more) per direction while it splices bulk
// data (relay.Copy); Go keeps such pipes in a pool until the garbage
// collector frees them, so they are reserved for (pipeEstimate). A process at its descriptor limit can neither accept nor dial,
// and a dial failing with EMFILE would be taken for a server failure:
// healthy servers marked down, their users' affinity rebalanced. So the
// broker never admits more sessions than its limit (RLIMIT_NOFILE, which Go
// raises to the hard limit at start; systemd's LimitNOFILE) leaves room
// for, whatever max_sessions says, and a dial that fails for lack of local
// resources is refused as a limit, not held against the server.

// fdReserveMax is the most descriptors kept back from sessions: listener,
// health checks, the affinity store, peers, the directory sync, logs.
const fdReserveMax = 256

// fdSessionCap is how many sessions limit descriptors leave room for (0:
// no limit worth the name).
func fdSessionCap(limit uint64) int {
	if limit == 0 || limit >= 1<<40 { // RLIM_INFINITY or close to it
		return 0
	}
	reserve := min(limit/4, fdReserveMax)
	return int((limit - reserve) / 2)
}

// nofileLimit is this process's current descriptor limit (0 if unknown).
func nofileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}

// sessionLimit is the effective global session limit of cfg and what sets
// it ("max_sessions" or "descriptor limit"); 0 = none. Under a descriptor
// limit, each splice pipe the process may hold takes the place of a
// session (two descriptors each).
func (b *Broker) sessionLimit(cfg *Config) (int, string) {
	if b.fdCap > 0 {
		// Connections held by admission take a descriptor each.
		held := b.counters.admission.Held()
		fdCap := max(0, b.fdCap-int(processPipes.held())-(held+1)/2)
		if cfg.MaxSessions == 0 || cfg.MaxSessions > fdCap {
			return fdCap, "descriptor limit"
		}
	}
	return cfg.MaxSessions, "max_sessions"
}

// processPipes is this process's splice pipes: like Go's pipe pool and
// relay's counters it is the process's, shared by every Broker in it.
var processPipes pipeEstimate

// pipeEstimate bounds the splice pipes the process holds. A splicing
// direction takes a pipe from Go's pool and puts it back when it ends; the
// pool (a sync.Pool) drops it at the second garbage collection after, and
// a finalizer then closes its two descriptors. So the pipes held are at
// most the peak of splicing directions since three collections passed
// without a direction ending.
type pipeEstimate struct {
	mu      sync.Mutex // protects following fields
	peak    int64      // most directions splicing at once since the pool last emptied
	ended   int64      // directions that had ended when last looked
	endedGC uint64     // GC cycle when a direction was last seen ending
}

// gcQuiet is how many collections empty the pool: two for sync.Pool's
// victim cache, one for the finalizer.
const gcQuiet = 3

// held returns the bound on pipes held now.
func (p *pipeEstimate) held() int64 {
	active, started := relay.Splicing()
	if started == 0 {
		return 0
	}
	gc := gcCycles()
	p.mu.Lock()
	defer p.mu.Unlock()
	if ended := started - active; ended != p.ended {
		p.ended, p.endedGC = ended, gc
	}
	p.peak = max(p.peak, active)
	if gc-p.endedGC >= gcQuiet {
		p.peak = active
	}
	return p.peak
}

// gcCycles is the number of completed GC cycles (runtime/metrics: no
// stop-the-world, unlike ReadMemStats).
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// logSessionLimit says at start and on reload when the descriptor limit,
// not max_sessions, bounds the sessions.
func (b *Broker) logSessionLimit(cfg Config) {
	if b.fdCap == 0 {
		return
	}
	switch {
	case cfg.MaxSessions > b.fdCap:
		b.log.Warn("max_sessions exceeds what the descriptor limit allows; sessions capped (raise LimitNOFILE)",
			"max_sessions", cfg.MaxSessions, "cap", b.fdCap, "nofile", b.nofile)
	case cfg.MaxSessions == 0:
		b.log.Info("sessions capped by the descriptor limit", "cap", b.fdCap, "nofile", b.nofile)
	}
}

// errLocalResources marks a dial that failed for lack of local resources
// (descriptors, ephemeral ports, buffers): not the server's fault.
var errLocalResources = errors.New("no local resources to connect")
