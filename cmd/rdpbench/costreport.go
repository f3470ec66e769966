package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// costTable renders the cost workload: per connection, each proxy's CPU
// (user + sys), context switches and system calls by call, the calls
// sorted by rdpbroker's count.
func costTable(s *strings.Builder, b *bench) {
	names := slices.Sorted(maps.Keys(b.costs))
	fmt.Fprintf(s, "#### Cost of one connection\n\n%d connections (16 closed-loop clients, the connrate exchange) through each proxy, once without and once under `strace -c -f` "+
		"(the counts only: strace slows every call). CPU and context switches (all threads, /proc) come from the run without strace. "+
		"Failed calls are the non-blocking kind: EAGAIN on a read or accept with nothing there, EINPROGRESS on a connect.\n\n", costConns)
	s.WriteString("| per connection |")
	for _, n := range names {
		fmt.Fprintf(s, " %s |", n)
	}
	s.WriteString("\n|---|" + strings.Repeat("---:|", len(names)) + "\n")
	per := func(n string, v float64) float64 { return v / float64(max(b.costs[n].conns, 1)) }
	row := func(label string, f func(n string) string) {
		fmt.Fprintf(s, "| %s |", label)
		for _, n := range names {
			fmt.Fprintf(s, " %s |", f(n))
		}
		s.WriteString("\n")
	}
	row("CPU ms (user + sys)", func(n string) string {
		c := b.costs[n].cpu
		return fmt.Sprintf("%.3f (%.3f + %.3f)", per(n, 1000*c.total()), per(n, 1000*c.user), per(n, 1000*c.sys))
	})
	row("context switches", func(n string) string { return fmt.Sprintf("%.1f", per(n, float64(b.costs[n].switches))) })
	row("**system calls** (failed)", func(n string) string {
		if b.costs[n].straceErr != "" {
			return "-"
		}
		var calls, errs int64
		for k, v := range b.costs[n].calls {
			calls += v
			errs += b.costs[n].errs[k]
		}
		return fmt.Sprintf("**%.1f** (%.1f)", float64(calls)/costConns, float64(errs)/costConns)
	})
	for _, n := range names {
		if e := b.costs[n].straceErr; e != "" {
			defer fmt.Fprintf(s, "No system call counts for %s: %s.\n\n", n, e)
		}
	}
	set := map[string]bool{}
	for _, n := range names {
		for k := range b.costs[n].calls {
			set[k] = true
		}
	}
	rank := func(k string) int64 {
		if c, ok := b.costs["rdpbroker"]; ok {
			return c.calls[k]
		}
		return b.costs[names[0]].calls[k]
	}
	calls := slices.SortedFunc(maps.Keys(set), func(x, y string) int { return cmp.Or(cmp.Compare(rank(y), rank(x)), cmp.Compare(x, y)) })
	for _, k := range calls {
		shown := false
		for _, n := range names {
			shown = shown || float64(b.costs[n].calls[k])/costConns >= 0.05
		}
		if !shown {
			continue // start-up and timer calls, not per connection
		}
		row(k, func(n string) string {
			c := b.costs[n]
			v := float64(c.calls[k]) / costConns
			if e := c.errs[k]; e > 0 {
				return fmt.Sprintf("%.2f (%.2f)", v, float64(e)/costConns)
			}
			return fmt.Sprintf("%.2f", v)
		})
	}
	s.WriteString("\n")
}
