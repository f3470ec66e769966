package main

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// TestPeerPortFloodUnderLowNofile: the real broker under a descriptor limit
// of 1024, its peer port flooded from a non-member address with 1,500 TCP
// connections held open and 5,000 UDP datagrams of garbage. Real clients
// are all served, no health check fails for lack of descriptors, and the
// log stays bounded (before: the connections starved real clients and each
// datagram logged an ERROR).
func TestPeerPortFloodUnderLowNofile(t *testing.T) {
	const nofile, floodConns, garbage, clients = 1024, 1500, 5000, 60
	dir := t.TempDir()
	secret := filepath.Join(dir, "peer.key")
	if err := os.WriteFile(secret, []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	peer := rdptest.FreeTCPUDPAddr(t)
	member := "127.0.0.9:" + strings.Split(peer, ":")[1] // a member that never answers
	b := brokerUnderNofile(t, nofile, "{check: rdp, interval: 200ms, timeout: 1s, rise: 1, fall: 2}",
		fmt.Sprintf("admin: {socket: \"\", http: \"\"}\npeers: {node: a, listen: %s, members: [%s], secret_file: %q, join_retry_interval: 1s}\n",
			peer, member, secret),
		fakeServers(t, "ts01", "ts02"))
	before := len(strings.Split(b.log(), "\n"))

	// The flood: connections held open by the attacker, and garbage.
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range floodConns {
		c, err := net.DialTimeout("tcp", peer, time.Second)
		if err != nil {
			continue // refused or reset: fine, the point is the broker
		}
		conns = append(conns, c)
	}
	u, err := net.Dial("udp", peer)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for i := range garbage {
		u.Write([]byte(fmt.Sprintf("garbage %d \x00\xff not memberlist", i)))
	}

	// Real clients while the flood's connections are still open.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	failed := 0
	for i := range clients {
		c, _, err := rdptest.Dial(addr, fmt.Sprintf("user%02d", i), 3*time.Second)
		if err != nil {
			failed++
			t.Logf("client %d: %v", i, err)
			continue
		}
		c.Close()
	}
	if failed > 0 {
		t.Errorf("%d of %d real clients failed under the peer-port flood\n%s", failed, clients, b.proc.describe())
	}
	time.Sleep(time.Second) // a window for health checks to fail, if they were going to
	log := b.log()
	for _, bad := range []string{"too many open files", "server down", "accept failed", "server connect failed"} {
		if strings.Contains(log, bad) {
			t.Errorf("broker log has %q under the peer-port flood:\n%s", bad, tail(log, 20))
		}
	}
	sessions := strings.Count(log, "msg=session ")
	if lines := len(strings.Split(log, "\n")) - before - sessions; lines > 100 {
		t.Errorf("%d log lines besides %d sessions for %d flood connections and %d datagrams, want <= 100:\n%s",
			lines, sessions, len(conns), garbage, tail(log, 30))
	}
	t.Logf("%d flood connections opened, %d datagrams; %d clients served; %d log lines besides sessions",
		len(conns), garbage, clients-failed, len(strings.Split(log, "\n"))-before-sessions)
}
