package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// costColumns is the cost table's columns: each proxy (in -targets order)
// by close style.
func costColumns(b *bench) []costKey {
	var cols []costKey
	for _, p := range b.proxies() {
		for _, cl := range b.closes {
			if _, ok := b.costs[costKey{p, cl}]; ok {
				cols = append(cols, costKey{p, cl})
			}
		}
	}
	return cols
}

// costTable renders the cost workload: per connection, each proxy's CPU
// (user + sys), context switches, TIME_WAIT sockets left and system calls
// by call, the calls sorted by rdpbroker's count; a column per proxy and
// client close style.
func costTable(s *strings.Builder, b *bench) {
	cols := costColumns(b)
	fmt.Fprintf(s, "#### Cost of one connection\n\n%d connections (16 closed-loop clients, the connrate exchange, closed with a FIN or an RST) through each proxy, "+
		"once without and once under `strace -c -f` (the counts only: strace slows every call). CPU, context switches (all threads, /proc) "+
		"and TIME_WAIT sockets come from the run without strace. Failed calls are the non-blocking kind: EAGAIN on a read or accept with nothing there, "+
		"EINPROGRESS on a connect. %s\n\n", costConns, twText)
	s.WriteString("| per connection |")
	for _, k := range cols {
		fmt.Fprintf(s, " %s %s |", k.proxy, k.close)
	}
	s.WriteString("\n|---|" + strings.Repeat("---:|", len(cols)) + "\n")
	row := func(label string, f func(c connCost) string) {
		fmt.Fprintf(s, "| %s |", label)
		for _, k := range cols {
			fmt.Fprintf(s, " %s |", f(b.costs[k]))
		}
		s.WriteString("\n")
	}
	costRows(row)
	for _, k := range cols {
		if e := b.costs[k].straceErr; e != "" {
			defer fmt.Fprintf(s, "No system call counts for %s %s: %s.\n\n", k.proxy, k.close, e)
		}
		if e := b.costs[k].tw.err; e != "" {
			defer fmt.Fprintf(s, "No TIME_WAIT counts for %s %s: %s.\n\n", k.proxy, k.close, e)
		}
	}
	callRows(b, cols, row)
	s.WriteString("\n")
}

// twText explains the TIME_WAIT rows.
const twText = "TIME_WAIT: the sockets in TIME_WAIT (/proc/net/tcp) made during the pass, per connection, by remote port: " +
	"toward a farm server's port, the proxy's server side (the proxy closed first; a proxy that passes a client's RST on to the server leaves none), " +
	"and toward the proxy's listen port, the client side (the client closed with a FIN). The table read before the pass tells the pass's sockets " +
	"from earlier cells' (a connection's socket new since, or with more time left than before: made again); health checks of the proxies running beside add at most a few per pass. \"table full\": during the pass the " +
	"network namespace held tcp_max_tw_buckets TIME_WAIT sockets, beyond which a closing socket skips TIME_WAIT (TcpExt TCPTimeWaitOverflow rose), " +
	"so the count is short; the workload waits up to a minute before each pass for the table to have room."

// costRows writes the rows every column has: CPU, switches, TIME_WAIT,
// the system call total.
func costRows(row func(string, func(connCost) string)) {
	per := func(c connCost, v float64) float64 { return v / float64(max(c.conns, 1)) }
	row("CPU ms (user + sys)", func(c connCost) string {
		return fmt.Sprintf("%.3f (%.3f + %.3f)", per(c, 1000*c.cpu.total()), per(c, 1000*c.cpu.user), per(c, 1000*c.cpu.sys))
	})
	row("context switches", func(c connCost) string { return fmt.Sprintf("%.1f", per(c, float64(c.switches))) })
	tw := func(c connCost, n int) string {
		switch {
		case c.tw.err != "":
			return "-"
		case c.tw.skipped > 0:
			return fmt.Sprintf("%.2f (table full)", per(c, float64(n)))
		}
		return fmt.Sprintf("%.2f", per(c, float64(n)))
	}
	row("**TIME_WAIT toward servers**", func(c connCost) string { return tw(c, c.tw.servers) })
	row("TIME_WAIT toward the proxy (client side)", func(c connCost) string { return tw(c, c.tw.clients) })
	row("**system calls** (failed)", func(c connCost) string {
		if c.straceErr != "" {
			return "-"
		}
		var calls, errs int64
		for k, v := range c.calls {
			calls += v
			errs += c.errs[k]
		}
		return fmt.Sprintf("**%.1f** (%.1f)", float64(calls)/costConns, float64(errs)/costConns)
	})
}

// callRows writes a row per system call made at least 0.05 times per
// connection by some column, sorted by rdpbroker's first column's count
// (else the first column's).
func callRows(b *bench, cols []costKey, row func(string, func(connCost) string)) {
	if len(cols) == 0 {
		return
	}
	set := map[string]bool{}
	for _, k := range cols {
		for call := range b.costs[k].calls {
			set[call] = true
		}
	}
	ranker := b.costs[cols[0]]
	if i := slices.IndexFunc(cols, func(k costKey) bool { return k.proxy == "rdpbroker" }); i >= 0 {
		ranker = b.costs[cols[i]]
	}
	calls := slices.SortedFunc(maps.Keys(set), func(x, y string) int {
		return cmp.Or(cmp.Compare(ranker.calls[y], ranker.calls[x]), cmp.Compare(x, y))
	})
	for _, call := range calls {
		shown := false
		for _, k := range cols {
			shown = shown || float64(b.costs[k].calls[call])/costConns >= 0.05
		}
		if !shown {
			continue // start-up and timer calls, not per connection
		}
		row(call, func(c connCost) string {
			v := float64(c.calls[call]) / costConns
			if e := c.errs[call]; e > 0 {
				return fmt.Sprintf("%.2f (%.2f)", v, float64(e)/costConns)
			}
			return fmt.Sprintf("%.2f", v)
		})
	}
}
