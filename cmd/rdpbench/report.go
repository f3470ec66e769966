package main

import (
	"cmp"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// format renders every table: medians of the repetitions with [min-max],
// and each target's ratio to direct and rdpbroker's ratio to HAProxy, both
// measured in this run.
func format(b *bench, res results, took time.Duration) string {
	var s strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&s, "### rdpbench, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&s, "Machine: %s, %d CPUs, %s; run took %v. Farm: %d fake RDP servers in the benchmark process (in a child process for the idle sessions). "+
		"Each cell: %v measured after %v warm-up, %d repetitions, targets interleaved; median [min-max]. "+
		"Ratios are medians over medians of the same run.\n\n",
		host, runtime.NumCPU(), runtime.Version(), took.Round(time.Second), b.servers, b.duration, b.warmup, b.repeat)
	dur := func(c cell, f func(cell) time.Duration) float64 { return float64(f(c)) }
	if b.runs("connrate") {
		s.WriteString("#### Connection rate, closed loop\n\nN clients each dial, send a Connection Request with an mstshash cookie, read the Connection Confirm, close, repeat. " +
			"Time to Connection Confirm runs from the dial.\n\n")
		latencyTable(&s, b, res, "connrate", "clients", b.clients, dur)
	}
	if b.runs("openloop") {
		s.WriteString("#### Connection rate, open loop\n\nConnections start at a fixed rate whatever the target's speed (no coordinated omission); " +
			"time to Connection Confirm runs from the scheduled start; achieved = completed / time until the last completion.\n\n")
		latencyTable(&s, b, res, "openloop", "offered conn/s", b.rates, dur)
	}
	if b.runs("bulk") {
		bulkTable(&s, b, res)
	}
	if b.runs("cost") && len(b.costs) > 0 {
		costTable(&s, b)
	}
	if b.runs("idle") {
		idleTable(&s, b, res)
	}
	if b.runs("sticky") {
		stickyTable(&s, b, res)
	}
	if b.runs("flood") {
		floodTable(&s, b)
	}
	s.WriteString(b.udpTable)
	return s.String()
}

// ratios returns the "ratio to direct" and "rdpbroker / haproxy" cells
// for target t, given the median of each target.
func ratios(t string, med map[string]float64) (string, string) {
	toDirect, vsHAProxy := "-", "-"
	if d := med["direct"]; d > 0 && t != "direct" {
		toDirect = fmt.Sprintf("%.2f", med[t]/d)
	} else if t == "direct" {
		toDirect = "1.00"
	}
	if h := med["haproxy"]; h > 0 && t == "rdpbroker" {
		vsHAProxy = fmt.Sprintf("**%.2f**", med[t]/h)
	}
	return toDirect, vsHAProxy
}

// medians returns the median of f over each target's cells for one row.
func medians(b *bench, res results, w, param string, f func(cell) float64) map[string]float64 {
	m := map[string]float64{}
	for _, t := range b.targets {
		if cells := res[key{w, param, t}]; len(cells) > 0 {
			m[t] = median(cells, f)
		}
	}
	return m
}

func rangeOf(cells []cell, f func(cell) float64, unit func(float64) string) string {
	lo, hi := minmax(cells, f)
	return fmt.Sprintf("%s [%s-%s]", unit(median(cells, f)), unit(lo), unit(hi))
}

func ms(v float64) string { return fmt.Sprintf("%.2f", v/1e6) }
func f0(v float64) string { return fmt.Sprintf("%.0f", v) }
func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }
func f3(v float64) string { return fmt.Sprintf("%.3f", v) }
func errSum(cells []cell) (e int64) {
	for _, c := range cells {
		e += c.errors
	}
	return e
}

func latencyTable(s *strings.Builder, b *bench, res results, w, param string, params []int, dur func(cell, func(cell) time.Duration) float64) {
	fmt.Fprintf(s, "| %s | target | conn/s | ratio to direct | rdpbroker / haproxy | CC p50 ms | CC p99 ms | p99 rdpbroker / haproxy | errors | proxy CPU ms / conn | user + sys ms / conn |\n", param)
	s.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	rate := func(c cell) float64 { return c.rate() }
	p50 := func(c cell) float64 { return dur(c, func(c cell) time.Duration { return c.p50 }) }
	p99 := func(c cell) float64 { return dur(c, func(c cell) time.Duration { return c.p99 }) }
	perConn := func(c cell) float64 { return 1000 / float64(max(c.conns, 1)) }
	for _, n := range params {
		p := fmt.Sprint(n)
		rates, p99s := medians(b, res, w, p, rate), medians(b, res, w, p, p99)
		for _, t := range b.targets {
			cells := res[key{w, p, t}]
			if len(cells) == 0 {
				continue
			}
			toDirect, vsH := ratios(t, rates)
			p99vs := "-"
			if h := p99s["haproxy"]; h > 0 && t == "rdpbroker" {
				p99vs = fmt.Sprintf("**%.2f**", p99s[t]/h)
			}
			cpu, split := "-", "-"
			if t != "direct" {
				cpu, split = cpuCells(cells, perConn, f3)
			}
			fmt.Fprintf(s, "| %d | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s |\n", n, t, rangeOf(cells, rate, f0), toDirect, vsH,
				rangeOf(cells, p50, ms), rangeOf(cells, p99, ms), p99vs, errSum(cells), cpu, split)
		}
	}
	s.WriteString("\n")
}

func bulkTable(s *strings.Builder, b *bench, res results) {
	s.WriteString("#### Bulk throughput\n\nN sessions each move bytes as fast as they go after the handshake: " +
		"up = client to server (the server sinks), down = server to client (the server sources). MB = 10^6 bytes.\n\n")
	s.WriteString("| direction | streams | target | MB/s | ratio to direct | rdpbroker / haproxy | proxy CPU s / GB | user + sys s / GB | errors |\n")
	s.WriteString("|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
	mbps := func(c cell) float64 { return c.mbps() }
	perGB := func(c cell) float64 { return 1 / max(float64(c.bytes)/1e9, 1e-9) }
	for _, dirn := range []string{up, down} {
		for _, n := range b.streams {
			p := fmt.Sprintf("%s/%d", dirn, n)
			med := medians(b, res, "bulk", p, mbps)
			for _, t := range b.targets {
				cells := res[key{"bulk", p, t}]
				if len(cells) == 0 {
					continue
				}
				toDirect, vsH := ratios(t, med)
				cpu, split := "-", "-"
				if t != "direct" {
					cpu, split = cpuCells(cells, perGB, f2)
				}
				fmt.Fprintf(s, "| %s | %d | %s | %s | %s | %s | %s | %s | %d |\n", dirn, n, t, rangeOf(cells, mbps, f0), toDirect, vsH, cpu, split, errSum(cells))
			}
		}
	}
	s.WriteString("\n")
}

func idleTable(s *strings.Builder, b *bench, res results) {
	fmt.Fprintf(s, "#### Idle sessions\n\n%d sessions, each through the Connection Request/Confirm exchange, held idle through a freshly started proxy; "+
		"growth of the proxy process's resident memory (VmRSS) and open descriptors, per session. %s\n\n", b.idleSessions, idleCount(b))
	s.WriteString("| target | sessions | RSS KiB / session | rdpbroker / haproxy | descriptors / session | RSS before -> with sessions, MiB | errors |\n")
	s.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	rss := func(c cell) float64 { return c.rssPerSession / 1024 }
	med := medians(b, res, "idle", "", rss)
	for _, t := range b.targets {
		cells := res[key{"idle", "", t}]
		if len(cells) == 0 {
			continue
		}
		_, vsH := ratios(t, med)
		fds := rangeOf(cells, func(c cell) float64 { return c.fdsPerSession }, f2)
		mid := cells[0]
		fmt.Fprintf(s, "| %s | %d | %s | %s | %s | %.1f -> %.1f | %d |\n", t, mid.sessions, rangeOf(cells, rss, f1), vsH, fds,
			float64(mid.rssBase)/(1<<20), float64(mid.rssAt)/(1<<20), errSum(cells))
	}
	s.WriteString("\n")
}

// idleCount explains the idle session count: requested, run, and the
// descriptor limit that decides the difference.
func idleCount(b *bench) string {
	why := fmt.Sprintf("a proxy holds 2 descriptors per session and every process here may hold %d (RLIMIT_NOFILE), so a proxy fits at most (%d - %d) / 2 = %d sessions "+
		"(%d kept for its listener, health checks and files); HAProxy runs with maxconn %d. "+
		"The fake servers run in a child process, so the benchmark process holds only the client side, 1 descriptor per session.",
		b.fdLimit, b.fdLimit, proxyFDReserve, idleCap(b.fdLimit), proxyFDReserve, haproxyMaxconn(b.idleSessions, b.fdLimit))
	if b.idleSessions < b.idleRequested {
		return fmt.Sprintf("%d sessions were requested (-idle) and %d run because %s", b.idleRequested, b.idleSessions, why)
	}
	return fmt.Sprintf("%d sessions requested and run; %s", b.idleRequested, why)
}

func stickyTable(s *strings.Builder, b *bench, res results) {
	fmt.Fprintf(s, "#### Stickiness\n\n%d logins connect together, hold their sessions, all disconnect; %d rounds, on a fresh proxy and farm. "+
		"A violation is a reconnect that lands on another server than the login's first connection (the direct connection has one server and is left out).\n\n",
		b.stickyLogins, b.stickyRounds)
	s.WriteString("| target | reconnects | violations | violation rate | errors |\n|---|---:|---:|---:|---:|\n")
	for _, t := range b.targets {
		cells := res[key{"sticky", "", t}]
		if len(cells) == 0 {
			continue
		}
		v := func(c cell) float64 { return float64(c.violations) }
		pct := func(c cell) float64 { return 100 * float64(c.violations) / float64(max(c.reconnects, 1)) }
		fmt.Fprintf(s, "| %s | %d | %s | %s%% | %d |\n", t, cells[0].reconnects, rangeOf(cells, v, f0), rangeOf(cells, pct, f1), errSum(cells))
	}
	s.WriteString("\n")
}

// cpuCells renders a proxy's two CPU columns, CPU time scaled by per (per
// connection, per GB): the total as median [min-max], and the user + sys
// split of the repetition whose total is that median, so that the parts
// shown add up to the total shown.
func cpuCells(cells []cell, per func(cell) float64, unit func(float64) string) (total, split string) {
	tot := func(c cell) float64 { return c.cpu.total() * per(c) }
	sorted := slices.Clone(cells)
	slices.SortStableFunc(sorted, func(a, b cell) int { return cmp.Compare(tot(a), tot(b)) })
	mid := sorted[len(sorted)/2] // the cell median() picks
	return rangeOf(cells, tot, unit), unit(mid.cpu.user*per(mid)) + " + " + unit(mid.cpu.sys*per(mid))
}

func median(cells []cell, f func(cell) float64) float64 {
	if len(cells) == 0 {
		return 0
	}
	v := make([]float64, len(cells))
	for i, c := range cells {
		v[i] = f(c)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func minmax(cells []cell, f func(cell) float64) (float64, float64) {
	if len(cells) == 0 {
		return 0, 0
	}
	lo, hi := f(cells[0]), f(cells[0])
	for _, c := range cells[1:] {
		lo, hi = min(lo, f(c)), max(hi, f(c))
	}
	return lo, hi
}

// writeReport replaces the section between the rdpbench markers in path
// (creating the file or the section as needed), so hand-written notes
// around it survive.
func writeReport(path, report string) error {
	const begin, end = "<!-- rdpbench:begin -->", "<!-- rdpbench:end -->"
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("report: %w", err)
	}
	section := begin + "\n" + report + end + "\n"
	doc := string(old)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i >= 0 && j > i {
		doc = doc[:i] + section + strings.TrimPrefix(doc[j+len(end):], "\n")
	} else {
		doc += "\n" + section
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
