// Command rdpbench measures rdpbroker against a direct connection to the
// same fake RDP farm, in one run, so the ratios are meaningful on a noisy
// shared machine.
//
//	go run ./cmd/rdpbench -broker bin/rdpbroker -out docs/benchmarks.md
//
// Workload "connrate": N closed-loop clients each dial the target, send an
// X.224 Connection Request with an mstshash cookie, read the Connection
// Confirm and close. Reported per cell: connections/s, time-to-Connection-
// Confirm p50/p99 (from dial start), errors, and the proxy process's CPU
// seconds per 1000 connections. Targets: the direct connection, HAProxy
// configured the seed's way, and rdpbroker with the equivalent config. Every cell is repeated; the table shows
// medians with min-max.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		broker   = flag.String("broker", "bin/rdpbroker", "rdpbroker binary")
		haproxy  = flag.String("haproxy", "/usr/sbin/haproxy", "HAProxy binary (\"\" to leave HAProxy out)")
		clients  = flag.String("clients", "16,64", "comma-separated closed-loop client counts")
		duration = flag.Duration("duration", 4*time.Second, "measured time per cell")
		warmup   = flag.Duration("warmup", 500*time.Millisecond, "unmeasured time before each cell")
		repeat   = flag.Int("repeat", 3, "repetitions per cell (median reported)")
		servers  = flag.Int("servers", 4, "fake terminal servers in the farm")
		logins   = flag.Int("logins", 1000, "distinct logins cycled by the clients")
		out      = flag.String("out", "", "also write the markdown report to this file")
	)
	flag.Parse()
	var ns []int
	for _, s := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "rdpbench: bad -clients %q\n", *clients)
			return 2
		}
		ns = append(ns, n)
	}
	b := &bench{
		brokerBin: *broker, haproxyBin: *haproxy, clients: ns, duration: *duration, warmup: *warmup,
		repeat: *repeat, servers: *servers, logins: *logins,
	}
	report, err := b.run()
	if err != nil {
		fmt.Fprintf(os.Stderr, "rdpbench: %v\n", err)
		return 1
	}
	fmt.Print(report)
	if *out != "" {
		if err := writeReport(*out, report); err != nil {
			fmt.Fprintf(os.Stderr, "rdpbench: %v\n", err)
			return 1
		}
	}
	return 0
}
