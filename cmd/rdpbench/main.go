// Command rdpbench measures rdpbroker against HAProxy and a direct
// connection to the same fake RDP farm, in one run, so that the ratios are
// meaningful on a noisy shared machine.
//
//	go run ./cmd/rdpbench -broker bin/rdpbroker -out docs/benchmarks.md
//	go run ./cmd/rdpbench -only connrate,bulk -duration 2s -repeat 1   # quick look
//
// Workloads (-only picks some):
//   - connrate: N closed-loop clients each dial the target, send an X.224
//     Connection Request with an mstshash cookie, read the Connection
//     Confirm and close: connections/s, time to Connection Confirm p50/p99,
//     errors, proxy CPU per connection.
//   - openloop: the same exchange started at a fixed rate whatever the
//     target's speed; latency from the scheduled start.
//   - bulk: N sessions moving bytes one way (up: client to server, down:
//     server to client): MB/s and proxy CPU seconds per GB.
//   - idle: sessions held idle through a fresh proxy: RSS and descriptors
//     per session. As many as the descriptor limit lets a proxy hold; the
//     farm runs in a child process (rdpbench farm-child) so that the
//     benchmark holds only the client sides.
//   - sticky: logins reconnecting: how often a reconnect lands on another
//     server than the first time.
//   - flood: 3,000 silent connections from 127.0.0.5 (reconnecting after
//     each close) while real clients arrive at 200/s from 127.0.0.1:
//     refused real clients, their Connection Confirm p99 against the same
//     clients without the flood, and the proxy's log lines.
//   - udp: flows of 1,000-byte datagrams (8 in flight each) echoed by a UDP
//     server, directly and through rdpbroker's RDP-UDP relay: round
//     trips/s and proxy CPU per relayed datagram.
//
// Targets: the direct connection (the physical limit), HAProxy configured
// the seed's way, and rdpbroker with the equivalent config, each its own
// process. Every cell is repeated; tables show medians with min-max.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) > 1 && os.Args[1] == farmChildArg { // hidden: startFarmChild
		return runFarmChild(os.Args[2:])
	}
	var (
		broker   = flag.String("broker", "bin/rdpbroker", "rdpbroker binary")
		haproxy  = flag.String("haproxy", "/usr/sbin/haproxy", "HAProxy binary (\"\" to leave HAProxy out)")
		only     = flag.String("only", strings.Join(workloads, ","), "comma-separated workloads to run")
		targets  = flag.String("targets", "direct,haproxy,rdpbroker", "comma-separated targets")
		clients  = flag.String("clients", "16,64", "connrate: comma-separated closed-loop client counts")
		rates    = flag.String("rates", "2000,4000", "openloop: comma-separated arrival rates (connections/s)")
		streams  = flag.String("streams", "1,8", "bulk: comma-separated stream counts")
		duration = flag.Duration("duration", 4*time.Second, "measured time per cell")
		warmup   = flag.Duration("warmup", 500*time.Millisecond, "unmeasured time before each cell")
		repeat   = flag.Int("repeat", 3, "repetitions per cell (median reported)")
		servers  = flag.Int("servers", 4, "fake terminal servers in the farm")
		logins   = flag.Int("logins", 1000, "distinct logins cycled by the connection-rate clients")
		idleN    = flag.Int("idle", 10000, "idle: sessions held per proxy, clamped to what the descriptor limit leaves a proxy (2 per session)")
		stickyL  = flag.Int("sticky-logins", 200, "sticky: logins")
		stickyR  = flag.Int("sticky-rounds", 5, "sticky: connection rounds per login")
		out      = flag.String("out", "", "also write the markdown report to this file")
		profDir  = flag.String("profile", "", "write CPU profiles of rdpbroker under the connrate load (an extra, unreported cell per client count) to this directory")
	)
	flag.Parse()
	bad := func(name, v string) int {
		fmt.Fprintf(os.Stderr, "rdpbench: bad -%s %q\n", name, v)
		return 2
	}
	if *idleN <= 0 {
		return bad("idle", fmt.Sprint(*idleN))
	}
	limit, err := fdLimit()
	if err != nil {
		fmt.Fprintf(os.Stderr, "rdpbench: %v\n", err)
		return 1
	}
	b := &bench{
		brokerBin: *broker, haproxyBin: *haproxy, duration: *duration, warmup: *warmup,
		repeat: *repeat, servers: *servers, logins: *logins,
		idleRequested: *idleN, idleSessions: min(*idleN, idleCap(limit)), fdLimit: limit,
		stickyLogins: *stickyL, stickyRounds: *stickyR, profileDir: *profDir,
		progress: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	}
	for _, l := range []struct {
		name, v string
		dst     *[]int
	}{{"clients", *clients, &b.clients}, {"rates", *rates, &b.rates}, {"streams", *streams, &b.streams}} {
		for _, f := range strings.Split(l.v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return bad(l.name, l.v)
			}
			*l.dst = append(*l.dst, n)
		}
	}
	for _, w := range strings.Split(*only, ",") {
		if !slices.Contains(workloads, strings.TrimSpace(w)) {
			return bad("only", *only)
		}
		b.only = append(b.only, strings.TrimSpace(w))
	}
	for _, t := range strings.Split(*targets, ",") {
		t = strings.TrimSpace(t)
		if !slices.Contains([]string{"direct", "haproxy", "rdpbroker"}, t) {
			return bad("targets", *targets)
		}
		if t == "haproxy" && *haproxy == "" {
			continue
		}
		b.targets = append(b.targets, t)
	}
	if *repeat < 1 || len(b.targets) == 0 {
		return bad("repeat", fmt.Sprint(*repeat))
	}
	// A signal must not leave HAProxy or rdpbroker behind: deferred Stops
	// do not run when the process is killed by one.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "rdpbench: %v: stopping the proxies\n", s)
		stopAll()
		os.Exit(130)
	}()
	report, err := b.run()
	stopAll()
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
