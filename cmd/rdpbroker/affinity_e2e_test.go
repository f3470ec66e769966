package main

// An HA pair of real rdpbroker processes sharing the affinity table:
// users placed through broker A return to the same terminal server through
// broker B after A is SIGKILLed, and A, restarted from its store, routes
// them there too. The terminal servers are rdptest fakes (no xrdp needed).

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

func TestAffinityHAPair(t *testing.T) {
	dir := t.TempDir()
	bin, err := buildBroker(dir)()
	if err != nil {
		t.Fatal(err)
	}
	farm := map[string]*rdptest.Server{}
	var servers []string
	for _, n := range []string{"ts01", "ts02", "ts03"} {
		s, err := rdptest.Start(rdptest.Config{Name: n})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		farm[n] = s
		servers = append(servers, fmt.Sprintf("{name: %s, address: %q}", n, s.Addr()))
	}
	secret := filepath.Join(dir, "peer.key")
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	if err := os.WriteFile(secret, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	peerA, peerB := rdptest.FreeTCPUDPAddr(t), rdptest.FreeTCPUDPAddr(t)
	config := func(node, state, self, other string) func(string) string {
		return func(listen string) string {
			return fmt.Sprintf(`
listen: %s
state_dir: %q
affinity: {flush_interval: 50ms}
peers: {node: %s, listen: %s, members: [%s], secret_file: %q, push_pull_interval: 2s, join_retry_interval: 300ms}
default_pool: farm
pools:
  - name: farm
    health: {check: none}
    servers: [%s]
`, listen, state, node, self, other, secret, strings.Join(servers, ", "))
		}
	}
	stateA, stateB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	a := startBroker(t, bin, "broker-a", config("a", stateA, peerA, peerB))
	b := startBroker(t, bin, "broker-b", config("b", stateB, peerB, peerA))
	for _, x := range []struct {
		p    *brokerProc
		peer string
	}{{a, "b"}, {b, "a"}} {
		if ok, _ := rdptest.Poll(logTimeout, func() (bool, string) {
			return hasLogLine(x.p.log(), "affinity: peer up", map[string]string{"peer": x.peer}), ""
		}); !ok {
			t.Fatalf("peer %s never came up:\n%s", x.peer, x.p.proc.describe())
		}
	}

	// route connects login through broker p and returns the server that
	// received the connection.
	route := func(p *brokerProc, login string) string {
		t.Helper()
		before := map[string]int{}
		for n, s := range farm {
			before[n] = countCookie(s, login)
		}
		c, _, err := rdptest.Dial(net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)), login, 3*time.Second)
		if err != nil {
			t.Fatalf("%s through %s: %v\n%s", login, p.proc.name, err, p.proc.describe())
		}
		c.Close()
		for n, s := range farm {
			if countCookie(s, login) > before[n] {
				return n
			}
		}
		return ""
	}
	const users = 30
	placed := map[string]string{}
	perServer := map[string]int{}
	for i := range users {
		login := fmt.Sprintf(`CORP\user%02d`, i)
		placed[login] = route(a, login)
		perServer[placed[login]]++
	}
	if len(perServer) != 3 {
		t.Errorf("users not balanced over the 3 servers: %v", perServer)
	}
	// B has the table once its state says so (SIGUSR1 logs it).
	want := strconv.Itoa(users)
	if ok, _ := rdptest.Poll(logTimeout, func() (bool, string) {
		syscall.Kill(b.proc.cmd.Process.Pid, syscall.SIGUSR1)
		return hasLogLine(b.log(), "state", map[string]string{"affinity_entries": want}), ""
	}); !ok {
		t.Fatalf("broker b never held %d entries:\n%s", users, b.proc.describe())
	}

	// A has written them all (what SIGKILL can lose is the last flush
	// window, 50 ms here: wait until nothing is pending).
	if ok, _ := rdptest.Poll(logTimeout, func() (bool, string) {
		syscall.Kill(a.proc.cmd.Process.Pid, syscall.SIGUSR1)
		return hasLogLine(a.log(), "state", map[string]string{"affinity_entries": want, "affinity_pending_writes": "0"}), ""
	}); !ok {
		t.Fatalf("broker a never flushed its %d entries:\n%s", users, a.proc.describe())
	}
	// A dies without a goodbye; every user comes back through B to the
	// server holding their session, and new users are still placed.
	syscall.Kill(-a.proc.cmd.Process.Pid, syscall.SIGKILL)
	<-a.proc.done
	violations := 0
	for login, srv := range placed {
		if got := route(b, login); got != srv {
			violations++
			t.Errorf("%s: placed on %s through a, routed to %s through b after a died", login, srv, got)
		}
	}
	if got := route(b, `CORP\newcomer`); got == "" {
		t.Error("b could not place a new user while a is down")
	}

	// A restarts from its own store (SIGKILLed: entries older than the
	// flush window survived) and routes the users as before.
	a2 := startBroker(t, bin, "broker-a2", config("a", stateA, peerA, peerB))
	loaded := logLines(a2.log(), "affinity table loaded")
	if len(loaded) != 1 {
		t.Fatalf("restarted a: no 'affinity table loaded' line:\n%s", a2.proc.describe())
	}
	if n, _ := strconv.Atoi(loaded[0]["entries"]); n < users {
		t.Errorf("restarted a loaded %d entries, want >= %d", n, users)
	}
	for login, srv := range placed {
		if got := route(a2, login); got != srv {
			violations++
			t.Errorf("%s: placed on %s, routed to %s by the restarted a", login, srv, got)
		}
	}
	t.Logf("%d users, %d stickiness violations across a crash and a restart; spread %v", users, violations, perServer)
}

func countCookie(s *rdptest.Server, cookie string) int {
	n := 0
	for _, r := range s.Seen() {
		if r.Cookie == cookie {
			n++
		}
	}
	return n
}
