package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Workloads, in the order they run and are reported.
var workloads = []string{"connrate", "openloop", "bulk", "cost", "idle", "sticky", "flood", "udp"}

type bench struct {
	brokerBin        string
	haproxyBin       string
	only             []string // workloads to run
	targets          []string // targets to measure
	clients          []int    // connrate: closed-loop clients
	rates            []int    // openloop: arrivals per second
	streams          []int    // bulk: concurrent streams
	duration, warmup time.Duration
	repeat, servers  int
	logins           int
	idleRequested    int    // idle: -idle
	idleSessions     int    // idle: what runs, -idle clamped to idleCap(fdLimit)
	fdLimit          uint64 // descriptors per process (hard RLIMIT_NOFILE)
	stickyLogins     int
	stickyRounds     int
	progress         func(format string, args ...any)
	costs            map[string]connCost      // cost: by proxy
	profileDir       string                   // where rdpbroker's CPU profiles go ("" = none)
	profiles         []string                 // the profiles written
	floods           map[string][]floodResult // flood: by proxy
	udpTable         string                   // udp: the rendered table
}

// key names a row of a table: workload, parameter, target.
type key struct {
	workload, param, target string
}

type results map[key][]cell

func (b *bench) runs(w string) bool  { return slices.Contains(b.only, w) }
func (b *bench) wants(t string) bool { return slices.Contains(b.targets, t) }
func (b *bench) proxies() []string {
	return slices.DeleteFunc(slices.Clone(b.targets), func(t string) bool { return t == "direct" })
}
func (b *bench) tmp(dir, name string) string {
	d := filepath.Join(dir, name)
	os.MkdirAll(d, 0o700)
	return d
}

// startTarget starts the named proxy in front of farm, its files in dir.
func (b *bench) startTarget(name, dir string, farm []string) (target, error) {
	switch name {
	case "direct":
		return direct{addr: farm[0]}, nil
	case "haproxy":
		return startHAProxy(b.haproxyBin, dir, farm, haproxyMaxconn(b.idleSessions, b.fdLimit))
	case "rdpbroker":
		return startBroker(b.brokerBin, dir, farm, b.profileDir != "")
	}
	return nil, fmt.Errorf("unknown target %q", name)
}

// run starts the farm and the targets, measures every cell, and returns
// the markdown report.
func (b *bench) run() (string, error) {
	start := time.Now()
	shared, err := startFarm(b.servers)
	if err != nil {
		return "", err
	}
	defer shared.close()
	dir, err := os.MkdirTemp("", "rdpbench-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	var targets []target
	for _, name := range b.targets {
		t, err := b.startTarget(name, b.tmp(dir, name), shared.addrs)
		if err != nil {
			return "", err
		}
		defer t.Stop()
		targets = append(targets, t)
	}
	logins := crs(b.logins)
	res := results{}
	// Every repetition runs all targets in turn, so drift on the shared
	// machine hits every target alike.
	measure := func(w, param string, f func(t target) cell, show func(cell) string) {
		for r := 0; r < b.repeat; r++ {
			for _, t := range targets {
				c := f(t)
				k := key{w, param, t.Name()}
				res[k] = append(res[k], c)
				b.progress("%-9s %-8s %-10s rep=%d  %s errors=%d", w, param, t.Name(), r+1, show(c), c.errors)
			}
		}
	}
	if b.runs("connrate") {
		for _, n := range b.clients {
			measure("connrate", fmt.Sprint(n), func(t target) cell { return connRate(t, n, b.warmup, b.duration, logins) },
				func(c cell) string { return fmt.Sprintf("%6.0f conn/s p50=%v p99=%v", c.rate(), c.p50, c.p99) })
			// The profile gets a cell of its own, not reported: sampling
			// costs the profiled process a little CPU.
			for _, t := range targets {
				if p, ok := t.(*process); ok && p.pprof != "" {
					wait := b.profile(p, fmt.Sprintf("rdpbroker-connrate-%d.pprof", n))
					connRate(t, n, b.warmup, b.duration, logins)
					wait()
				}
			}
		}
	}
	if b.runs("openloop") {
		for _, rate := range b.rates {
			measure("openloop", fmt.Sprint(rate), func(t target) cell { return openLoop(t, float64(rate), b.warmup, b.duration, logins) },
				func(c cell) string { return fmt.Sprintf("%6.0f conn/s p50=%v p99=%v", c.rate(), c.p50, c.p99) })
		}
	}
	if b.runs("bulk") {
		for _, dirn := range []string{up, down} {
			for _, n := range b.streams {
				measure("bulk", fmt.Sprintf("%s/%d", dirn, n), func(t target) cell { return bulk(t, dirn, n, b.warmup, b.duration) },
					func(c cell) string { return fmt.Sprintf("%7.0f MB/s cpu=%.2fs", c.mbps(), c.cpu.total()) })
			}
		}
	}
	if b.runs("cost") {
		b.costs = map[string]connCost{}
		for _, t := range targets {
			if t.Name() == "direct" {
				continue
			}
			c := measureCost(t, logins, b.tmp(dir, "cost-"+t.Name()))
			if c.straceErr != "" {
				b.progress("cost %s: no system call counts: %s", t.Name(), c.straceErr)
			}
			b.costs[t.Name()] = c
			var calls int64
			for _, n := range c.calls {
				calls += n
			}
			b.progress("%-9s %-10s %d conns  cpu=%.3f ms/conn  %.1f switches/conn  %.1f syscalls/conn", "cost", t.Name(), c.conns,
				1000*c.cpu.total()/float64(max(c.conns, 1)), float64(c.switches)/float64(max(c.conns, 1)), float64(calls)/costConns)
		}
	}
	// Idle sessions and stickiness each get fresh processes: a proxy that
	// served the load above has grown its heap, and its stick table is full.
	// The idle farm runs in a child process (startFarmChild) so that this
	// process holds one descriptor per session, not two.
	fresh := func(w string, child bool, f func(t target, fm *farm, rep int) cell, show func(cell) string) error {
		for r := 0; r < b.repeat; r++ {
			for _, name := range b.proxies() {
				d := b.tmp(dir, fmt.Sprintf("%s-%s-%d", w, name, r))
				start := func() (*farm, error) { return startFarm(b.servers) }
				if child {
					start = func() (*farm, error) { return startFarmChild(b.servers, filepath.Join(d, "farm.log")) }
				}
				fm, err := start()
				if err != nil {
					return err
				}
				t, err := b.startTarget(name, d, fm.addrs)
				if err != nil {
					fm.close()
					return err
				}
				c := f(t, fm, r)
				t.Stop()
				fm.close()
				k := key{w, "", name}
				res[k] = append(res[k], c)
				b.progress("%-9s %-10s rep=%d  %s errors=%d %s", w, name, r+1, show(c), c.errors, c.firstErr)
			}
		}
		return nil
	}
	if b.runs("idle") {
		if b.idleSessions < b.idleRequested {
			b.progress("idle: %d sessions requested, %d run: a proxy holds 2 descriptors per session, the limit is %d per process",
				b.idleRequested, b.idleSessions, b.fdLimit)
		}
		err := fresh("idle", true, func(t target, _ *farm, _ int) cell { return idle(t, b.idleSessions) },
			func(c cell) string {
				return fmt.Sprintf("%d sessions %.1f KiB/session %.2f fds/session", c.sessions, c.rssPerSession/1024, c.fdsPerSession)
			})
		if err != nil {
			return "", err
		}
	}
	if b.runs("sticky") {
		err := fresh("sticky", false, func(t target, fm *farm, rep int) cell {
			return sticky(t, fm.srvs, b.stickyLogins, b.stickyRounds, fmt.Sprintf("%c%d", t.Name()[0], rep))
		}, func(c cell) string { return fmt.Sprintf("%d violations in %d reconnects", c.violations, c.reconnects) })
		if err != nil {
			return "", err
		}
	}
	if b.runs("flood") {
		b.floods = map[string][]floodResult{}
		for r := 0; r < b.repeat; r++ {
			for _, name := range b.proxies() {
				fr, err := b.floodRun(name, b.tmp(dir, fmt.Sprintf("flood-%s-%d", name, r)), shared.addrs, logins)
				if err != nil {
					return "", err
				}
				b.floods[name] = append(b.floods[name], fr)
				b.progress("%-9s %-10s rep=%d  p99 alone=%v under flood=%v refused=%d/%d flood dials=%d log lines=%d", "flood", name, r+1,
					fr.base.p99, fr.flood.p99, fr.flood.errors, int64(fr.flood.conns)+fr.flood.errors, fr.dials, fr.lines)
			}
		}
	}
	if b.runs("udp") && b.wants("rdpbroker") {
		if b.udpTable, err = b.udpRun(dir, shared.addrs); err != nil {
			return "", err
		}
	}
	return format(b, res, time.Since(start)), nil
}
