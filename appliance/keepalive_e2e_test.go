package appliance

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// tcpTimer returns the kernel's pending timer kind ("tr" in /proc/net/tcp:
// 0 none, 1 retransmit, 2 keepalive, ...) of the IPv4 socket from local
// port lport (0: any) to remote port rport, and whether there is one.
func tcpTimer(t *testing.T, lport, rport int) (int, bool) {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	want := [2]string{fmt.Sprintf(":%04X", lport), fmt.Sprintf(":%04X", rport)}
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || (lport != 0 && !strings.HasSuffix(fs[1], want[0])) || !strings.HasSuffix(fs[2], want[1]) {
			continue
		}
		tr, _, _ := strings.Cut(fs[5], ":")
		n, err := strconv.ParseInt(tr, 16, 32)
		if err != nil {
			t.Fatalf("/proc/net/tcp timer %q: %v", fs[5], err)
		}
		return int(n), true
	}
	return 0, false
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// Keep-alive is set on both connections of a session (on the server side a
// second after the connect, see relay.KeepaliveDelay): an idle session gets a
// pending keepalive timer in the kernel on both sockets.
func TestKeepaliveOnBothSides(t *testing.T) {
	const keepaliveTimer = 2
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	b := startBroker(t, writeConfig(t, routedConfig, servers, "{{no_cookie}}", "default"))
	c, _, err := rdptest.Dial(b.addr, "erin", 2*time.Second)
	if err != nil {
		t.Fatalf("dial through broker: %v", err)
	}
	defer c.Close()
	brokerPort, clientPort, serverPort := port(t, b.addr), port(t, c.LocalAddr().String()), port(t, servers["ts01"].Addr())
	// The broker's end of the client connection: local = broker, remote = client.
	rdptest.Eventually(t, 5*time.Second, "keepalive timer on the client connection", func() bool {
		tr, ok := tcpTimer(t, brokerPort, clientPort)
		return ok && tr == keepaliveTimer
	})
	// The broker's connection to the server (no health checks: the only
	// connection to it): remote = the server's port.
	rdptest.Eventually(t, 5*time.Second, "keepalive timer on the server connection", func() bool {
		tr, ok := tcpTimer(t, 0, serverPort)
		return ok && tr == keepaliveTimer
	})
}
