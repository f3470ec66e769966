package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// Workloads, in the order they run and are reported.
var workloads = []string{"connrate", "openloop", "bulk", "cost", "idle", "sticky", "flood", "udp"}

// Targets: the direct connection, HAProxy on the seed's config and on the
// best one (haproxyConfig), rdpbroker.
var allTargets = []string{"direct", "haproxy-seed", "haproxy", "rdpbroker"}

type bench struct {
	brokerBin        string
	haproxyBin       string
	only             []string // workloads to run
	targets          []string // targets to measure
	clients          []int    // connrate: closed-loop clients
	closes           []closeStyle
	rates            []int   // openloop: arrivals per second
	streams          []int   // bulk: concurrent streams
	src              sources // the clients' source addresses
	cpus             cpuPlan // where the proxies, this process and the farm run
	duration, warmup time.Duration
	repeat, servers  int
	logins           int
	idleRequested    int    // idle: -idle
	idleSessions     int    // idle: what runs, -idle clamped to idleCap(fdLimit)
	fdLimit          uint64 // descriptors per process (hard RLIMIT_NOFILE)
	stickyLogins     int
	stickyRounds     int
	progress         func(format string, args ...any)
	costs            map[costKey]connCost     // cost: by proxy and close style
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

// runState is what one run shares between its workloads.
type runState struct {
	dir     string   // temporary files
	shared  *farm    // the farm of the shared targets
	targets []target // started once, measured by connrate, openloop, bulk, cost
	logins  [][]byte // Connection Requests, one per login
	res     results
}

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

// haproxyThreads is the best HAProxy's nbthread: the CPUs it is given.
func (b *bench) haproxyThreads() int {
	if b.cpus.pinned() {
		return len(b.cpus.proxy)
	}
	return runtime.NumCPU()
}

// haproxyMaxpipes is the best HAProxy's maxpipes.
func (b *bench) haproxyMaxpipes() int {
	return haproxyMaxpipes(haproxyMaxconn(b.idleSessions, b.fdLimit), b.haproxyThreads(), b.fdLimit)
}

// startTarget starts the named proxy in front of farm, its files in dir.
func (b *bench) startTarget(name, dir string, farm []string) (target, error) {
	switch name {
	case "direct":
		return direct{addr: farm[0]}, nil
	case "haproxy-seed", "haproxy":
		maxconn := haproxyMaxconn(b.idleSessions, b.fdLimit)
		s := haproxySetup{best: name == "haproxy", nbthread: b.haproxyThreads(), maxconn: maxconn,
			maxpipes: b.haproxyMaxpipes(), cpus: b.cpus.proxy}
		return startHAProxy(name, b.haproxyBin, dir, farm, s)
	case "rdpbroker":
		return startBroker(b.brokerBin, dir, farm, b.profileDir != "", b.cpus.proxy)
	}
	return nil, fmt.Errorf("unknown target %q", name)
}

// startFarm starts a farm for the workloads: in a child process on the
// farm's CPUs when pinning (or when child says so: the idle workload's
// descriptors), else in this process.
func (b *bench) startFarm(child bool, dir string) (*farm, error) {
	if child || b.cpus.pinned() {
		return startFarmChild(b.servers, filepath.Join(dir, "farm.log"), b.cpus.farm)
	}
	return startFarm(b.servers)
}

// run starts the farm and the targets, measures every cell, and returns
// the markdown report.
func (b *bench) run() (string, error) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "rdpbench-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	st := &runState{dir: dir, logins: crs(b.logins), res: results{}}
	if st.shared, err = b.startFarm(false, b.tmp(dir, "farm")); err != nil {
		return "", err
	}
	defer st.shared.close()
	for _, name := range b.targets {
		t, err := b.startTarget(name, b.tmp(dir, name), st.shared.addrs)
		if err != nil {
			return "", err
		}
		defer t.Stop()
		st.targets = append(st.targets, t)
	}
	for _, w := range []struct {
		name string
		run  func(*runState) error
	}{
		{"connrate", b.connrateRun}, {"openloop", b.openloopRun}, {"bulk", b.bulkRun}, {"cost", b.costRun},
		{"idle", b.idleRun}, {"sticky", b.stickyRun}, {"flood", b.floodRuns}, {"udp", b.udpRuns},
	} {
		if !b.runs(w.name) {
			continue
		}
		if err := w.run(st); err != nil {
			return "", err
		}
	}
	return format(b, st.res, time.Since(start)), nil
}

// measure runs f on every shared target, repeat times. Every repetition
// runs all targets in turn, so drift on the shared machine hits every
// target alike.
func (b *bench) measure(st *runState, w, param string, f func(t target) cell, show func(cell) string) {
	for r := 0; r < b.repeat; r++ {
		for _, t := range st.targets {
			c := f(t)
			k := key{w, param, t.Name()}
			st.res[k] = append(st.res[k], c)
			b.progress("%-9s %-8s %-12s rep=%d  %s errors=%d", w, param, t.Name(), r+1, show(c), c.errors)
		}
	}
}

func showRate(c cell) string {
	return fmt.Sprintf("%6.0f conn/s p50=%v p99=%v", c.rate(), c.p50, c.p99)
}

// connrateParam is the results key of a connrate cell: "16 fin".
func connrateParam(n int, cl closeStyle) string { return fmt.Sprintf("%d %s", n, cl) }

func (b *bench) connrateRun(st *runState) error {
	for _, n := range b.clients {
		for _, cl := range b.closes {
			measure := func(t target) cell { return connRate(t, n, cl, b.src, b.warmup, b.duration, st.logins) }
			b.measure(st, "connrate", connrateParam(n, cl), measure, showRate)
			// The profile gets a cell of its own, not reported: sampling
			// costs the profiled process a little CPU.
			for _, t := range st.targets {
				if p, ok := t.(*process); ok && p.pprof != "" {
					wait := b.profile(p, fmt.Sprintf("rdpbroker-connrate-%d-%s.pprof", n, cl))
					measure(t)
					wait()
				}
			}
		}
	}
	return nil
}

func (b *bench) openloopRun(st *runState) error {
	for _, rate := range b.rates {
		b.measure(st, "openloop", fmt.Sprint(rate),
			func(t target) cell { return openLoop(t, float64(rate), b.src, b.warmup, b.duration, st.logins) }, showRate)
	}
	return nil
}

func (b *bench) bulkRun(st *runState) error {
	for _, dirn := range []string{up, down} {
		for _, n := range b.streams {
			b.measure(st, "bulk", fmt.Sprintf("%s/%d", dirn, n), func(t target) cell { return bulk(t, dirn, n, b.src, b.warmup, b.duration) },
				func(c cell) string { return fmt.Sprintf("%7.0f MB/s cpu=%.2fs", c.mbps(), c.cpu.total()) })
		}
	}
	return nil
}

// costRun measures the cost of a connection on every proxy, once per close
// style.
func (b *bench) costRun(st *runState) error {
	b.costs = map[costKey]connCost{}
	for _, cl := range b.closes {
		for _, t := range st.targets {
			if t.Name() == "direct" {
				continue
			}
			k := costKey{t.Name(), cl}
			r := costRun{t: t, farm: st.shared.addrs, cl: cl, src: b.src, logins: st.logins,
				dir: b.tmp(st.dir, fmt.Sprintf("cost-%s-%s", t.Name(), cl))}
			c := measureCost(r, b.progress)
			if c.straceErr != "" {
				b.progress("cost %s %s: no system call counts: %s", t.Name(), cl, c.straceErr)
			}
			b.costs[k] = c
			b.progressCost(k, c)
		}
	}
	return nil
}

func (b *bench) progressCost(k costKey, c connCost) {
	var calls int64
	for _, n := range c.calls {
		calls += n
	}
	per := func(v float64) float64 { return v / float64(max(c.conns, 1)) }
	full := ""
	if c.tw.skipped > 0 {
		full = fmt.Sprintf(" (table full: %d closing sockets skipped TIME_WAIT)", c.tw.skipped)
	}
	b.progress("%-9s %-12s %-3s %d conns  cpu=%.3f ms/conn  %.1f switches/conn  %.1f syscalls/conn  TIME_WAIT/conn: %.2f to servers, %.2f to proxy%s",
		"cost", k.proxy, k.close, c.conns, per(1000*c.cpu.total()), per(float64(c.switches)), float64(calls)/costConns,
		per(float64(c.tw.servers)), per(float64(c.tw.clients)), full)
}

// fresh runs f repeat times on each proxy, each time freshly started with
// a farm of its own (started by newFarm, given the cell's directory): a
// proxy that served the load above has grown its heap, and its stick table
// is full.
func (b *bench) fresh(st *runState, w string, newFarm func(dir string) (*farm, error), f func(t target, fm *farm, rep int) cell, show func(cell) string) error {
	for r := 0; r < b.repeat; r++ {
		for _, name := range b.proxies() {
			d := b.tmp(st.dir, fmt.Sprintf("%s-%s-%d", w, name, r))
			fm, err := newFarm(d)
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
			st.res[k] = append(st.res[k], c)
			b.progress("%-9s %-12s rep=%d  %s errors=%d %s", w, name, r+1, show(c), c.errors, c.firstErr)
		}
	}
	return nil
}

// idleRun: the farm runs in a child process (startFarmChild) so that this
// process holds one descriptor per session, not two.
func (b *bench) idleRun(st *runState) error {
	if b.idleSessions < b.idleRequested {
		b.progress("idle: %d sessions requested, %d run: a proxy holds 2 descriptors per session, the limit is %d per process",
			b.idleRequested, b.idleSessions, b.fdLimit)
	}
	return b.fresh(st, "idle", func(d string) (*farm, error) { return b.startFarm(true, d) },
		func(t target, _ *farm, _ int) cell { return idle(t, b.idleSessions, b.src) },
		func(c cell) string {
			return fmt.Sprintf("%d sessions %.1f KiB/session %.2f fds/session", c.sessions, c.rssPerSession/1024, c.fdsPerSession)
		})
}

// stickyRun reads what each farm server saw, so its farm runs in this
// process, pinned or not.
func (b *bench) stickyRun(st *runState) error {
	return b.fresh(st, "sticky", func(string) (*farm, error) { return startFarm(b.servers) },
		func(t target, fm *farm, rep int) cell {
			return sticky(t, fm.srvs, b.src, b.stickyLogins, b.stickyRounds, fmt.Sprintf("%c%d", t.Name()[0], rep))
		},
		func(c cell) string { return fmt.Sprintf("%d violations in %d reconnects", c.violations, c.reconnects) })
}

func (b *bench) floodRuns(st *runState) error {
	b.floods = map[string][]floodResult{}
	for r := 0; r < b.repeat; r++ {
		for _, name := range b.proxies() {
			fr, err := b.floodRun(name, b.tmp(st.dir, fmt.Sprintf("flood-%s-%d", name, r)), st.shared.addrs, st.logins)
			if err != nil {
				return err
			}
			b.floods[name] = append(b.floods[name], fr)
			b.progress("%-9s %-12s rep=%d  p99 alone=%v under flood=%v refused=%d/%d flood dials=%d log lines=%d", "flood", name, r+1,
				fr.base.p99, fr.flood.p99, fr.flood.errors, int64(fr.flood.conns)+fr.flood.errors, fr.dials, fr.lines)
		}
	}
	return nil
}

func (b *bench) udpRuns(st *runState) error {
	if !b.wants("rdpbroker") {
		return nil
	}
	var err error
	b.udpTable, err = b.udpRun(st.dir, st.shared.addrs)
	return err
}
