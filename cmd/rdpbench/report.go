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
// and each target's ratio to direct and rdpbroker's ratio to HAProxy (the
// best configuration), both measured in this run.
func format(b *bench, res results, took time.Duration) string {
	var s strings.Builder
	header(&s, b, took)
	if b.runs("connrate") {
		s.WriteString("#### Connection rate, closed loop\n\nN clients each dial, send a Connection Request with an mstshash cookie, read the Connection Confirm, close, repeat. " +
			"Close fin: close(2), a FIN; rst: SO_LINGER 0 first, an RST. Time to Connection Confirm runs from the dial.\n\n")
		var rows []paramRow
		for _, n := range b.clients {
			for _, cl := range b.closes {
				rows = append(rows, paramRow{connrateParam(n, cl), []string{fmt.Sprint(n), string(cl)}})
			}
		}
		latencyTable(&s, b, res, "connrate", []string{"clients", "close"}, rows)
	}
	if b.runs("openloop") {
		s.WriteString("#### Connection rate, open loop\n\nConnections start at a fixed rate whatever the target's speed (no coordinated omission); " +
			"time to Connection Confirm runs from the scheduled start; achieved = completed / time until the last completion. Clients close with a FIN.\n\n")
		var rows []paramRow
		for _, r := range b.rates {
			rows = append(rows, paramRow{fmt.Sprint(r), []string{fmt.Sprint(r)}})
		}
		latencyTable(&s, b, res, "openloop", []string{"offered conn/s"}, rows)
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

// header describes the run: machine, farm, cells, the targets' configs,
// the clients' addresses, the CPU sets.
func header(s *strings.Builder, b *bench, took time.Duration) {
	host, _ := os.Hostname()
	fmt.Fprintf(s, "### rdpbench, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(s, "Machine: %s, %d CPUs, %s; run took %v. Farm: %d fake RDP servers %s. "+
		"Each cell: %v measured after %v warm-up, %d repetitions, targets interleaved; median [min-max]. "+
		"Ratios are medians over medians of the same run.\n\n",
		host, runtime.NumCPU(), runtime.Version(), took.Round(time.Second), b.servers, farmWhere(b), b.duration, b.warmup, b.repeat)
	fmt.Fprintf(s, "Targets: %s\n\n", targetsText(b))
	fmt.Fprintf(s, "Clients: %s (all workloads but flood, which keeps 127.0.0.5 for the flood and 127.0.0.1 for the real clients, and udp); "+
		"from one address to one destination the kernel's search for a free ephemeral port would be what is measured at high connection rates. "+
		"CPU sets: %s.\n\n", b.src, b.cpus)
}

// farmWhere says where the farm ran.
func farmWhere(b *bench) string {
	if b.cpus.pinned() {
		return "in a child process on the farm's CPUs (in the benchmark process for stickiness, which reads what each server saw)"
	}
	return "in the benchmark process (in a child process for the idle sessions)"
}

// targetsText describes each target measured.
func targetsText(b *bench) string {
	what := map[string]string{
		"direct": "direct = the clients connect to one farm server, the physical limit",
		"haproxy-seed": "haproxy-seed = HAProxy 2.6 on the seed's config (inspect up to 2s, accept on an RDP cookie, leastconn, " +
			"stick table on rdp_cookie(mstshash), TCP health checks every 3s; threads: 2.6's default, one per CPU it may run on; no splice)",
		"haproxy": fmt.Sprintf("haproxy = HAProxy at its best: the seed's config plus `nbthread %d` (the CPUs it is given) and "+
			"`option splice-request` / `option splice-response` (forced splice both ways; `maxpipes %d`, what the descriptor limit leaves beside maxconn: "+
			"a pipe serves one transfer at a time, beyond them HAProxy copies); the rdpbroker / haproxy ratios are against this one",
			b.haproxyThreads(), b.haproxyMaxpipes()),
		"rdpbroker": "rdpbroker = the config equivalent to the seed's (one pool, leastconn, RDP health checks every 3s, default admission)",
	}
	var parts []string
	for _, t := range b.targets {
		parts = append(parts, what[t])
	}
	return strings.Join(parts, "; ") + "."
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

// paramRow is a row group of a latency table: its results key and the
// leading columns that show it.
type paramRow struct {
	key  string
	cols []string
}

func latencyTable(s *strings.Builder, b *bench, res results, w string, heads []string, rows []paramRow) {
	fmt.Fprintf(s, "| %s | target | conn/s | ratio to direct | rdpbroker / haproxy | CC p50 ms | CC p99 ms | p99 rdpbroker / haproxy | errors | proxy CPU ms / conn | user + sys ms / conn |\n",
		strings.Join(heads, " | "))
	s.WriteString("|" + strings.Repeat("---:|", len(heads)) + "---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	rate := func(c cell) float64 { return c.rate() }
	p50 := func(c cell) float64 { return float64(c.p50) }
	p99 := func(c cell) float64 { return float64(c.p99) }
	perConn := func(c cell) float64 { return 1000 / float64(max(c.conns, 1)) }
	for _, r := range rows {
		rates, p99s := medians(b, res, w, r.key, rate), medians(b, res, w, r.key, p99)
		for _, t := range b.targets {
			cells := res[key{w, r.key, t}]
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
			fmt.Fprintf(s, "| %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s |\n", strings.Join(r.cols, " | "), t, rangeOf(cells, rate, f0), toDirect, vsH,
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
