package routing

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// defaultProbe is the ProbeFunc used when RouterOptions.Probe is nil:
// rdp.Probe (an X.224 Connection Request must be answered with a
// Connection Confirm) for "rdp", a TCP connect for "tcp".
func defaultProbe(ctx context.Context, check, addr string) error {
	var d net.Dialer
	switch check {
	case CheckRDP:
		return rdp.Probe(ctx, d.DialContext, addr)
	case CheckTCP:
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	return errors.New("routing: unknown health check " + check)
}

// runChecks checks one server until ctx is done: first after a random
// delay in [0, interval) so that servers are not probed in lockstep, then
// every interval, each check bounded by the timeout.
func (r *Router) runChecks(ctx context.Context, st *serverState, h HealthConfig) {
	timer := time.NewTimer(rand.N(h.Interval))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		cctx, cancel := context.WithTimeout(ctx, h.Timeout)
		start := r.now()
		err := r.probe(cctx, h.Check, st.address)
		took := r.now().Sub(start)
		cancel()
		if ctx.Err() != nil {
			return // stopped during the check: not the server's fault
		}
		if err != nil && LocalExhaustion(err) {
			// Out of descriptors or ports here: the check says nothing
			// about the server; its state stays as it was.
			r.log.Warn("health check not run: no local resources", "server", st.name, "addr", st.address, "err", err)
		} else {
			st.setTook(took)
			r.recordCheck(st, h, err)
		}
		timer.Reset(h.Interval)
	}
}

// recordCheck applies a check result and logs transitions; a transition
// also moves an until-restart drain along (untilRestart, override.go).
func (r *Router) recordCheck(st *serverState, h HealthConfig, err error) {
	changed, healthy := st.record(err, r.now(), h.Rise, h.Fall)
	if !changed {
		return
	}
	attrs := []any{"server", st.name, "pool", st.pool, "addr", st.address, "check", h.Check}
	if healthy {
		r.log.Info("server up", attrs...)
		r.untilRestart(st, true)
		return
	}
	r.log.Info("server down", append(attrs, "err", err)...)
	r.untilRestart(st, false)
	if t := r.table.Load(); t != nil {
		if p := t.Pool(st.pool); p != nil && !anyAvailable(p, r.now()) {
			r.log.Warn("pool has no available server", "pool", p.Name, "servers", len(p.Servers))
		}
	}
}

func anyAvailable(p *Pool, now time.Time) bool {
	for _, s := range p.Servers {
		if s.Available(now) {
			return true
		}
	}
	return false
}

// setTook records how long the last active check took.
func (st *serverState) setTook(d time.Duration) {
	st.mu.Lock()
	st.lastTook = d
	st.mu.Unlock()
}
