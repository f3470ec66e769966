package appliance

import (
	"errors"
	"syscall"
)

// A proxied session holds two descriptors, the client's socket and the
// server's. A process at its descriptor limit can neither accept nor dial,
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
// it ("max_sessions" or "descriptor limit"); 0 = none.
func (b *Broker) sessionLimit(cfg *Config) (int, string) {
	if b.fdCap > 0 && (cfg.MaxSessions == 0 || cfg.MaxSessions > b.fdCap) {
		return b.fdCap, "descriptor limit"
	}
	return cfg.MaxSessions, "max_sessions"
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
