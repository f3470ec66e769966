package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// Workloads, in the order they run and are reported.
var workloads = []string{"connrate", "openloop", "bulk", "idle", "sticky"}

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
	idleSessions     int
	stickyLogins     int
	stickyRounds     int
	progress         func(format string, args ...any)
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

// startFarm starts the fake terminal servers (mode by cookie, farmMode).
func (b *bench) startFarm() ([]*rdptest.Server, []string, error) {
	var (
		srvs  []*rdptest.Server
		addrs []string
	)
	for i := 0; i < b.servers; i++ {
		s, err := rdptest.Start(rdptest.Config{Name: fmt.Sprintf("ts%02d", i+1), ModeFor: farmMode})
		if err != nil {
			closeFarm(srvs)
			return nil, nil, fmt.Errorf("farm: %w", err)
		}
		srvs = append(srvs, s)
		addrs = append(addrs, s.Addr())
	}
	return srvs, addrs, nil
}

func closeFarm(srvs []*rdptest.Server) {
	for _, s := range srvs {
		s.Close()
	}
}

// startTarget starts the named proxy in front of farm, its files in dir.
func (b *bench) startTarget(name, dir string, farm []string) (target, error) {
	switch name {
	case "direct":
		return direct{addr: farm[0]}, nil
	case "haproxy":
		return startHAProxy(b.haproxyBin, dir, farm)
	case "rdpbroker":
		return startBroker(b.brokerBin, dir, farm)
	}
	return nil, fmt.Errorf("unknown target %q", name)
}

// run starts the farm and the targets, measures every cell, and returns
// the markdown report.
func (b *bench) run() (string, error) {
	start := time.Now()
	srvs, farm, err := b.startFarm()
	if err != nil {
		return "", err
	}
	defer closeFarm(srvs)
	dir, err := os.MkdirTemp("", "rdpbench-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	var targets []target
	for _, name := range b.targets {
		t, err := b.startTarget(name, b.tmp(dir, name), farm)
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
					func(c cell) string { return fmt.Sprintf("%7.0f MB/s cpu=%.2fs", c.mbps(), c.cpu) })
			}
		}
	}
	// Idle sessions and stickiness each get fresh processes: a proxy that
	// served the load above has grown its heap, and its stick table is full.
	fresh := func(w string, f func(t target, farm []*rdptest.Server, rep int) cell, show func(cell) string) error {
		for r := 0; r < b.repeat; r++ {
			for _, name := range b.proxies() {
				srvs, addrs, err := b.startFarm()
				if err != nil {
					return err
				}
				t, err := b.startTarget(name, b.tmp(dir, fmt.Sprintf("%s-%s-%d", w, name, r)), addrs)
				if err != nil {
					closeFarm(srvs)
					return err
				}
				c := f(t, srvs, r)
				t.Stop()
				closeFarm(srvs)
				k := key{w, "", name}
				res[k] = append(res[k], c)
				b.progress("%-9s %-10s rep=%d  %s errors=%d %s", w, name, r+1, show(c), c.errors, c.firstErr)
			}
		}
		return nil
	}
	if b.runs("idle") {
		err := fresh("idle", func(t target, _ []*rdptest.Server, _ int) cell { return idle(t, b.idleSessions) },
			func(c cell) string {
				return fmt.Sprintf("%d sessions %.1f KiB/session %.2f fds/session", c.sessions, c.rssPerSession/1024, c.fdsPerSession)
			})
		if err != nil {
			return "", err
		}
	}
	if b.runs("sticky") {
		err := fresh("sticky", func(t target, farm []*rdptest.Server, rep int) cell {
			return sticky(t, farm, b.stickyLogins, b.stickyRounds, fmt.Sprintf("%c%d", t.Name()[0], rep))
		}, func(c cell) string { return fmt.Sprintf("%d violations in %d reconnects", c.violations, c.reconnects) })
		if err != nil {
			return "", err
		}
	}
	return format(b, res, time.Since(start)), nil
}
