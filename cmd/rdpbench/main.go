// Command rdpbench measures rdpbroker against HAProxy and a direct
// connection to the same fake RDP farm, in one run, so that the ratios are
// meaningful on a noisy shared machine.
//
//	go run ./cmd/rdpbench -broker bin/rdpbroker -out docs/benchmarks.md
//	go run ./cmd/rdpbench -only connrate,bulk -duration 2s -repeat 1   # quick look
//	go run ./cmd/rdpbench -cpus auto ...   # proxy, load and farm on CPUs of their own
//
// Workloads (-only picks some):
//   - connrate: N closed-loop clients each dial the target, send an X.224
//     Connection Request with an mstshash cookie, read the Connection
//     Confirm and close, with a FIN or with an RST (-close: SO_LINGER 0
//     first): connections/s, time to Connection Confirm p50/p99, errors,
//     proxy CPU per connection; one row per client count and close style.
//   - openloop: the same exchange (FIN) started at a fixed rate whatever
//     the target's speed; latency from the scheduled start.
//   - bulk: N sessions moving bytes one way (up: client to server, down:
//     server to client): MB/s and proxy CPU seconds per GB.
//   - cost: what one connection costs each proxy, per close style: CPU,
//     context switches, system calls (strace -c), and the TIME_WAIT
//     sockets it leaves toward the servers (the proxy closed first) and
//     toward the proxy (the client closed first), read from /proc/net/tcp.
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
// Targets: the direct connection (the physical limit), HAProxy on the
// seed's config (haproxy-seed), HAProxy at its best (haproxy: the seed's
// config plus forced splice and nbthread = the CPUs it is given; the
// rdpbroker/haproxy ratios are against this one), and rdpbroker with the
// config equivalent to the seed's, each its own process. Every cell is
// repeated; tables show medians with min-max.
//
// Clients (all workloads but flood and udp) dial from -sources addresses,
// 127.0.1.1 .. 127.0.1.N, round robin by client: from one address to one
// destination, the kernel's search for a free ephemeral port becomes the
// bottleneck at high connection rates. The flood workload keeps its own
// addresses (127.0.0.5 for the flood, 127.0.0.1 for the real clients): it
// measures per-source fairness.
//
// -cpus pins the proxies, this process (the load generator) and the farm
// (then run in a child process, except the sticky workload's, which reads
// what each server saw) to disjoint CPU sets: "auto" splits the CPUs this
// process may use (half proxy, a quarter load, the rest farm; 4 at least),
// or name them, "proxy=0-7,load=8-11,farm=12-15".
package main

import (
	"errors"
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

// usageError is a bad flag: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func badFlag(name, v string, why error) error {
	if why != nil {
		return usageError{fmt.Errorf("bad -%s %q: %w", name, v, why)}
	}
	return usageError{fmt.Errorf("bad -%s %q", name, v)}
}

func run() int {
	if len(os.Args) > 1 && os.Args[1] == farmChildArg { // hidden: startFarmChild
		return runFarmChild(os.Args[2:])
	}
	b, out, err := parseFlags()
	if err == nil && b.cpus.pinned() {
		err = pinSelf(b.cpus.load)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rdpbench: %v\n", err)
		if errors.As(err, new(usageError)) {
			return 2
		}
		return 1
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
	if out != "" {
		if err := writeReport(out, report); err != nil {
			fmt.Fprintf(os.Stderr, "rdpbench: %v\n", err)
			return 1
		}
	}
	return 0
}

// flags are the command line's values not copied into bench as they are.
type flags struct {
	only, targets, clients, rates, streams, closes, cpus string
	sources, idle                                        int
}

// parseFlags reads the command line into a bench and the report's path.
func parseFlags() (*bench, string, error) {
	b := &bench{progress: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }}
	var f flags
	flag.StringVar(&b.brokerBin, "broker", "bin/rdpbroker", "rdpbroker binary")
	flag.StringVar(&b.haproxyBin, "haproxy", "/usr/sbin/haproxy", "HAProxy binary (\"\" to leave HAProxy out)")
	flag.StringVar(&f.only, "only", strings.Join(workloads, ","), "comma-separated workloads to run")
	flag.StringVar(&f.targets, "targets", strings.Join(allTargets, ","), "comma-separated targets: direct, haproxy-seed (the seed's config), haproxy (forced splice, nbthread), rdpbroker")
	flag.StringVar(&f.clients, "clients", "16,64", "connrate: comma-separated closed-loop client counts")
	flag.StringVar(&f.closes, "close", "fin,rst", "connrate, cost: comma-separated client close styles (fin: close; rst: SO_LINGER 0, close)")
	flag.StringVar(&f.rates, "rates", "2000,4000", "openloop: comma-separated arrival rates (connections/s)")
	flag.StringVar(&f.streams, "streams", "1,8", "bulk: comma-separated stream counts")
	flag.IntVar(&f.sources, "sources", 16, "clients dial from 127.0.1.1 .. 127.0.1.N, round robin by client (1: the kernel's default address); not the flood workload")
	flag.StringVar(&f.cpus, "cpus", "", "pin to disjoint CPU sets: \"auto\" (half proxy, a quarter load generator, the rest farm; needs 4 CPUs) or \"proxy=0-7,load=8-11,farm=12-15\"; \"\" pins nothing")
	flag.DurationVar(&b.duration, "duration", 4*time.Second, "measured time per cell")
	flag.DurationVar(&b.warmup, "warmup", 500*time.Millisecond, "unmeasured time before each cell")
	flag.IntVar(&b.repeat, "repeat", 3, "repetitions per cell (median reported)")
	flag.IntVar(&b.servers, "servers", 4, "fake terminal servers in the farm")
	flag.IntVar(&b.logins, "logins", 1000, "distinct logins cycled by the connection-rate clients")
	flag.IntVar(&f.idle, "idle", 10000, "idle: sessions held per proxy, clamped to what the descriptor limit leaves a proxy (2 per session)")
	flag.IntVar(&b.stickyLogins, "sticky-logins", 200, "sticky: logins")
	flag.IntVar(&b.stickyRounds, "sticky-rounds", 5, "sticky: connection rounds per login")
	out := flag.String("out", "", "also write the markdown report to this file")
	flag.StringVar(&b.profileDir, "profile", "", "write CPU profiles of rdpbroker under the connrate load (an extra, unreported cell per client count and close style) to this directory")
	flag.Parse()
	return b, *out, b.apply(f)
}

// apply checks f and fills in the rest of b.
func (b *bench) apply(f flags) error {
	if f.idle <= 0 {
		return badFlag("idle", fmt.Sprint(f.idle), nil)
	}
	if b.repeat < 1 {
		return badFlag("repeat", fmt.Sprint(b.repeat), nil)
	}
	limit, err := fdLimit()
	if err != nil {
		return err
	}
	b.fdLimit, b.idleRequested, b.idleSessions = limit, f.idle, min(f.idle, idleCap(limit))
	for _, l := range []struct {
		name, v string
		dst     *[]int
	}{{"clients", f.clients, &b.clients}, {"rates", f.rates, &b.rates}, {"streams", f.streams, &b.streams}} {
		if *l.dst, err = parseCounts(l.v); err != nil {
			return badFlag(l.name, l.v, nil)
		}
	}
	if b.closes, err = parseCloses(f.closes); err != nil {
		return badFlag("close", f.closes, err)
	}
	if b.src, err = newSources(f.sources); err != nil {
		return badFlag("sources", fmt.Sprint(f.sources), err)
	}
	if err := b.pickWorkloads(f.only, f.targets); err != nil {
		return err
	}
	return b.planCPUs(f.cpus)
}

// pickWorkloads reads -only and -targets.
func (b *bench) pickWorkloads(only, targets string) error {
	for _, w := range splitList(only) {
		if !slices.Contains(workloads, w) {
			return badFlag("only", only, fmt.Errorf("unknown workload %q", w))
		}
		b.only = append(b.only, w)
	}
	for _, t := range splitList(targets) {
		if !slices.Contains(allTargets, t) {
			return badFlag("targets", targets, fmt.Errorf("unknown target %q", t))
		}
		if strings.HasPrefix(t, "haproxy") && b.haproxyBin == "" {
			continue
		}
		b.targets = append(b.targets, t)
	}
	if len(b.targets) == 0 {
		return badFlag("targets", targets, errors.New("nothing to measure"))
	}
	return nil
}

// planCPUs reads -cpus against the CPUs this process may run on.
func (b *bench) planCPUs(spec string) error {
	if spec == "" {
		return nil
	}
	allowed, err := allowedCPUs()
	if err != nil {
		return err
	}
	if b.cpus, err = parseCPUs(spec, allowed); err != nil {
		return badFlag("cpus", spec, err)
	}
	return nil
}

// parseCounts reads a comma-separated list of positive integers.
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// splitList splits a comma-separated flag, trimming spaces, dropping empty
// elements.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
