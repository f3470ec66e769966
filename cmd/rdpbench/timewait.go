package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// A connection's TIME_WAIT socket stays twLen (TCP_TIMEWAIT_LEN, fixed in
// the kernel) on the side that closed first. The cost workload counts the
// ones a pass of short connections leaves behind: toward the farm (the
// proxy's server side, the proxy closed first) and toward the proxy (the
// client side, the client closed first). A proxy that passes a client's
// RST on to the server leaves none toward the farm.
const twLen = 60 * time.Second

// twTick is the unit of the timer /proc/net/tcp shows for a TIME_WAIT
// socket: clock ticks, USER_HZ = 100 on Linux whatever the kernel's HZ (a
// fresh one reads 03:00001761, 5985 ticks: 60 s less the 150 ms since it
// was made).
const twTick = 10 * time.Millisecond

// twSocket is one TIME_WAIT socket of /proc/net/tcp{,6}.
type twSocket struct {
	conn       string // "local remote", hex as /proc shows them: which connection
	remotePort int
	left       time.Duration // until the kernel frees it
}

// parseTimeWait reads the TIME_WAIT sockets (st 06, timer 03) out of the
// text of /proc/net/tcp or /proc/net/tcp6:
//
//	sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt ...
//	 0: 0100007F:D456 0100007F:D021 06 00000000:00000000 03:00001761 00000000 ...
func parseTimeWait(r io.Reader) ([]twSocket, error) {
	var out []twSocket
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 4096), 1<<20)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 6 || f[3] != "06" {
			continue // the header, and every other state
		}
		tw, err := parseTWLine(f)
		if err != nil {
			return nil, fmt.Errorf("TIME_WAIT line %q: %w", s.Text(), err)
		}
		out = append(out, tw)
	}
	return out, s.Err()
}

// parseTWLine reads the remote port (hex, after the address's last ':')
// and the time left (hex ticks after "03:") of a TIME_WAIT line's fields.
func parseTWLine(f []string) (twSocket, error) {
	i := strings.LastIndexByte(f[2], ':')
	port, err := strconv.ParseUint(f[2][i+1:], 16, 16)
	if i < 0 || err != nil {
		return twSocket{}, fmt.Errorf("remote address %q", f[2])
	}
	timer, when, ok := strings.Cut(f[5], ":")
	ticks, err := strconv.ParseUint(when, 16, 32)
	if !ok || timer != "03" || err != nil {
		return twSocket{}, fmt.Errorf("timer %q: want 03:<ticks left>", f[5])
	}
	return twSocket{conn: f[1] + " " + f[2], remotePort: int(port), left: time.Duration(ticks) * twTick}, nil
}

// timeWaits reads every TIME_WAIT socket of this network namespace.
func timeWaits() ([]twSocket, error) {
	var all []twSocket
	for _, p := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) && p != "/proc/net/tcp" {
			continue // no IPv6
		}
		if err != nil {
			return nil, fmt.Errorf("TIME_WAIT: %w", err)
		}
		tws, err := parseTimeWait(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("TIME_WAIT: %s: %w", p, err)
		}
		all = append(all, tws...)
	}
	return all, nil
}

// madeBetween counts the sockets toward ports in after that the pass
// between the two readings made: those whose connection was not in
// TIME_WAIT before, and those whose time left went up (the kernel reused
// the connection's address and port pair for a new connection, which went
// through TIME_WAIT again). Earlier cells' sockets, still there for up to
// a minute, are in before with more time left than now. The time left
// alone cannot tell them apart: it is read while the kernel walks its
// table, which at 100,000 sockets takes long enough under load for the
// pass's first sockets to look older than the pass.
func madeBetween(before, after []twSocket, ports map[int]bool) int {
	was := make(map[string]time.Duration, len(before))
	for _, tw := range before {
		if ports[tw.remotePort] {
			was[tw.conn] = tw.left
		}
	}
	n := 0
	for _, tw := range after {
		if !ports[tw.remotePort] {
			continue
		}
		if left, ok := was[tw.conn]; !ok || tw.left > left {
			n++
		}
	}
	return n
}

// portsOf is the ports of addrs (host:port).
func portsOf(addrs ...string) map[int]bool {
	ports := map[int]bool{}
	for _, a := range addrs {
		if _, p, err := net.SplitHostPort(a); err == nil {
			n, _ := strconv.Atoi(p)
			ports[n] = true
		}
	}
	return ports
}

// twBuckets is the namespace's cap on TIME_WAIT sockets
// (net.ipv4.tcp_max_tw_buckets); beyond it a closing socket skips
// TIME_WAIT, and a count would come out short. 0 when unknown.
func twBuckets() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_max_tw_buckets")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// twOverflows is how many closing sockets of this network namespace
// skipped TIME_WAIT so far because the table was full
// (TcpExt TCPTimeWaitOverflow); -1 when unknown.
func twOverflows() int64 {
	f, err := os.Open("/proc/net/netstat")
	if err != nil {
		return -1
	}
	defer f.Close()
	n, err := netstatCounter(f, "TcpExt", "TCPTimeWaitOverflow")
	if err != nil {
		return -1
	}
	return n
}

// netstatCounter reads one counter out of the text of /proc/net/netstat:
// pairs of lines, "Group: name name ..." then "Group: value value ...".
func netstatCounter(r io.Reader, group, name string) (int64, error) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 8192), 1<<20)
	var names []string
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) == 0 || f[0] != group+":" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == name && i < len(f) {
				return strconv.ParseInt(f[i], 10, 64)
			}
		}
		break
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("netstat: no %s %s", group, name)
}

// waitTWRoom waits, at most twLen, until the TIME_WAIT table has room for
// need more sockets: the connection-rate cells before the cost workload
// can fill it, and a pass run then would leave fewer than it causes.
func waitTWRoom(need int, progress func(string, ...any)) {
	limit := twBuckets()
	if limit == 0 {
		return
	}
	deadline := time.Now().Add(twLen)
	for said := false; time.Now().Before(deadline); said = true {
		tws, err := timeWaits()
		if err != nil || len(tws)+need <= limit {
			return
		}
		if !said {
			progress("cost: %d TIME_WAIT sockets of at most %d (tcp_max_tw_buckets): waiting for room for %d", len(tws), limit, need)
		}
		time.Sleep(time.Second)
	}
}
