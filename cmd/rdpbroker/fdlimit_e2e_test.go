package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// TestDescriptorLimitCapsSessions runs the real broker under a descriptor
// limit of 96 (a small LimitNOFILE): it admits the 36 sessions that limit
// leaves room for (2 descriptors each, a quarter kept back), refuses the
// rest as a limit, never runs out of descriptors, so never holds a failed
// dial against a healthy server, and takes new sessions once some end.
func TestDescriptorLimitCapsSessions(t *testing.T) {
	const nofile, capacity, extra = 96, 36, 9
	b := brokerUnderNofile(t, nofile, "{check: rdp, interval: 100ms, timeout: 1s, rise: 1, fall: 1}", "",
		fakeServers(t, "ts01", "ts02"))
	if !hasLogLine(b.log(), "sessions capped by the descriptor limit", map[string]string{"cap": strconv.Itoa(capacity), "nofile": strconv.Itoa(nofile)}) {
		t.Fatalf("no cap logged at start:\n%s", b.proc.describe())
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	refused := 0
	for i := range capacity + extra {
		c, _, err := rdptest.Dial(addr, fmt.Sprintf("user%02d", i), 3*time.Second)
		if err != nil {
			refused++
			continue
		}
		held = append(held, c)
	}
	if len(held) != capacity || refused != extra {
		t.Fatalf("%d sessions admitted, %d refused; want %d and %d\n%s", len(held), refused, capacity, extra, b.proc.describe())
	}
	// The broker logs a refusal after closing the connection: wait for the
	// lines rather than read the log at once.
	var log string
	limited := 0
	rdptest.Poll(logTimeout, func() (bool, string) {
		log, limited = b.log(), 0
		for _, kv := range logLines(log, "rejected") {
			if matches(kv, map[string]string{"reason": "limit"}) && strings.Contains(kv["err"], "descriptor limit reached") {
				limited++
			}
		}
		return limited >= extra, ""
	})
	if limited != extra {
		t.Errorf("%d clients refused by the descriptor limit, want %d\n%s", limited, extra, tail(log, 20))
	}
	for _, bad := range []string{"server connect failed", "server down", "too many open files"} {
		if strings.Contains(log, bad) {
			t.Errorf("log has %q: the broker ran out of descriptors or blamed a server\n%s", bad, tail(log, 20))
		}
	}
	// Sessions that end make room again.
	for _, c := range held[:5] {
		c.Close()
	}
	held = held[5:]
	ok, why := rdptest.Poll(logTimeout, func() (bool, string) {
		c, _, err := rdptest.Dial(addr, "late", 3*time.Second)
		if err != nil {
			return false, err.Error()
		}
		held = append(held, c)
		return true, ""
	})
	if !ok {
		t.Errorf("no session admitted after 5 ended: %s\n%s", why, b.proc.describe())
	}
}

// fakeServers starts fake RDP servers, stopped when the test ends, and
// returns them as YAML flow entries of a pool's servers.
func fakeServers(t *testing.T, names ...string) []string {
	t.Helper()
	var entries []string
	for _, n := range names {
		s, err := rdptest.Start(rdptest.Config{Name: n})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		entries = append(entries, fmt.Sprintf("{name: %s, address: %q}", n, s.Addr()))
	}
	return entries
}

// brokerUnderNofile builds the broker and runs it under `ulimit -n
// nofile` with one pool, farm, of servers (YAML flow entries) checked by
// health, plus the extra top-level YAML lines.
func brokerUnderNofile(t *testing.T, nofile int, health, extra string, servers []string) *brokerProc {
	t.Helper()
	dir := t.TempDir()
	bin, err := buildBroker(dir)()
	if err != nil {
		t.Fatal(err)
	}
	wrap := []string{"sh", "-c", `ulimit -n ` + strconv.Itoa(nofile) + ` && exec "$0" "$@"`}
	return startBrokerWrapped(t, bin, "broker", wrap, func(listen string) string {
		return fmt.Sprintf("\nlisten: %s\nstate_dir: %q\n%sdefault_pool: farm\npools:\n  - name: farm\n    health: %s\n    servers: [%s]\n",
			listen, filepath.Join(dir, "state"), extra, health, strings.Join(servers, ", "))
	})
}
