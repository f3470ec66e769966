package main

import (
	"fmt"
	"math"
	"syscall"
)

// The idle workload is bounded by descriptors, not memory: these machines
// cap every process at 20,000 (a hard RLIMIT_NOFILE, not raisable without
// CAP_SYS_RESOURCE), and a proxied session holds 2 in the proxy (client
// and server socket). The benchmark itself holds 1 per idle session (the
// client side; the farm runs in a child process), so the proxy is the
// tighter bound.

// proxyFDReserve is what a proxy holds besides its sessions: listener,
// epoll, health-check sockets, log and state files, stdio. rdpbroker keeps
// this many back at a limit of 20,000 and refuses sessions beyond the rest
// (appliance/fdlimit.go), so both proxies get the count it admits.
const proxyFDReserve = 256

// fdLimit returns this process's hard descriptor limit, which the proxies
// inherit: rdpbroker (Go) raises its soft limit to it, HAProxy as far as
// its maxconn needs.
func fdLimit() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("RLIMIT_NOFILE: %w", err)
	}
	return r.Max, nil
}

// pairs is how many 2-descriptor sessions fit in limit after reserve.
func pairs(limit, reserve uint64) int {
	if limit <= reserve {
		return 0
	}
	return int(min((limit-reserve)/2, math.MaxInt32)) // RLIM_INFINITY: no bound worth the name
}

// idleCap is the most idle sessions a proxy process can hold under limit
// descriptors: 9,872 at 20,000.
func idleCap(limit uint64) int { return pairs(limit, proxyFDReserve) }

// haproxyMaxconn is HAProxy's global maxconn: room for the idle sessions
// (the most any workload holds at once; the open loop holds up to
// maxInFlight) and a few more. HAProxy 2.6 reserves 2 descriptors per
// connection plus about 21 (listener, health checks, per-thread pollers
// with the farm of 4) and, strict-limits being its default, refuses to
// start when the limit is lower: at 20,000, maxconn 9989 starts and 9990
// does not. Hence the cap at pairs(limit, 32), which leaves it 32.
func haproxyMaxconn(idle int, limit uint64) int {
	return min(max(idle, maxInFlight)+16, pairs(limit, 32))
}

// haproxyMaxpipes is the best HAProxy's global maxpipes. Splicing takes a
// pipe, 2 descriptors, per transfer under way, and HAProxy 2.6 reserves
// maxpipes of them up front (default maxconn/4): with maxconn at
// haproxyMaxconn's, that is more than the limit holds (at 20,000: "Cannot
// raise FD limit to 24738"). So it gets what maxconn leaves, less about
// 13 + 3 per thread that HAProxy counts besides (measured: nbthread 2,
// maxconn 9888 and maxpipes 100 start at 20,000; 105 does not), with room
// to spare. A pipe goes back to the pool once empty, so the count bounds
// the transfers spliced at once, not the sessions: beyond it HAProxy
// copies with recv/send. At least 1 (0 would mean the default).
func haproxyMaxpipes(maxconn, nbthread int, limit uint64) int {
	spare := int64(min(limit, math.MaxInt32)) - 2*int64(maxconn) - 32 - 4*int64(nbthread)
	return int(max(1, min(int64(maxconn/4), spare/2)))
}
