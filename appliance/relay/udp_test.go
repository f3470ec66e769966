package relay

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// udpServer is a fake server: it records every datagram and echoes it
// back prefixed with its name.
type udpServer struct {
	name string
	conn *net.UDPConn
	mu   sync.Mutex
	got  []string
}

func startUDPServer(t testing.TB, name string) *udpServer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &udpServer{name: name, conn: c}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.got = append(s.got, string(buf[:n]))
			s.mu.Unlock()
			reply := append([]byte(name+":"), buf[:n]...)
			if bytes.HasPrefix(buf[:n], []byte("big")) {
				reply = make([]byte, 5000)
			}
			c.WriteToUDPAddrPort(reply, from)
		}
	}()
	return s
}

func (s *udpServer) addr() string { return s.conn.LocalAddr().String() }

func (s *udpServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// startUDP runs a relay on a loopback socket until the test ends.
func startUDP(t *testing.T, cfg UDPConfig, opts UDPOptions) *UDP {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	u := NewUDP(c, cfg, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return")
		}
	})
	return u
}

// udpClient is a client socket talking to the relay.
func udpClient(t *testing.T, u *UDP) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, u.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg and waits for the echo (resending: the first
// datagrams may come while the flow opens).
func roundTrip(t *testing.T, c *net.UDPConn, msg string) string {
	t.Helper()
	buf := make([]byte, 8192)
	for range 50 {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n])
		}
	}
	t.Fatalf("no reply to %q", msg)
	return ""
}

// byPort attaches a client to the server its target map names by client
// port; other clients are refused.
type byPort struct {
	mu      sync.Mutex
	targets map[uint16]UDPTarget
	calls   atomic.Int32
}

func (b *byPort) attach(client netip.AddrPort, first []byte) (UDPTarget, error) {
	b.calls.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if tg, ok := b.targets[client.Port()]; ok {
		return tg, nil
	}
	return UDPTarget{}, errors.New("no session")
}

func (b *byPort) set(c *net.UDPConn, tg UDPTarget) {
	b.mu.Lock()
	b.targets[uint16(c.LocalAddr().(*net.UDPAddr).Port)] = tg
	b.mu.Unlock()
}

func testUDPConfig() UDPConfig {
	cfg := DefaultUDPConfig()
	cfg.Enabled = true
	return cfg
}

func TestUDPRelaysBothWays(t *testing.T) {
	s1, s2 := startUDPServer(t, "s1"), startUDPServer(t, "s2")
	at := &byPort{targets: map[uint16]UDPTarget{}}
	u := startUDP(t, testUDPConfig(), UDPOptions{Attach: at.attach})
	a, b, stranger := udpClient(t, u), udpClient(t, u), udpClient(t, u)
	at.set(a, UDPTarget{Addr: s1.addr(), Group: 1})
	at.set(b, UDPTarget{Addr: s2.addr(), Group: 2})

	if got := roundTrip(t, a, "hello from a"); got != "s1:hello from a" {
		t.Errorf("a got %q", got)
	}
	if got := roundTrip(t, b, "hello from b"); got != "s2:hello from b" {
		t.Errorf("b got %q", got)
	}
	stranger.Write([]byte("let me in"))
	rdptest.Eventually(t, 5*time.Second, "the stranger's datagram refused", func() bool {
		return u.Stats().DroppedUnattached >= 1
	})
	for _, s := range []*udpServer{s1, s2} {
		for _, m := range s.seen() {
			if m == "let me in" || (s == s1 && m != "hello from a") || (s == s2 && m != "hello from b") {
				t.Errorf("%s saw %q", s.name, m)
			}
		}
	}
	st := u.Stats()
	if st.Active != 2 || st.Flows != 2 || st.DatagramsOut < 2 || st.DatagramsIn < 2 || st.BytesIn < 24 {
		t.Errorf("stats %+v", st)
	}
	if fl := u.Flows(); len(fl) != 2 || fl[0].ServerAddr != s1.addr() || fl[0].Group != 1 {
		t.Errorf("flows %+v", fl)
	}
}

func TestUDPCaps(t *testing.T) {
	s1 := startUDPServer(t, "s1")
	at := &byPort{targets: map[uint16]UDPTarget{}}
	cfg := testUDPConfig()
	cfg.MaxFlows, cfg.MaxFlowsPerSession = 2, 1
	u := startUDP(t, cfg, UDPOptions{Attach: at.attach})
	a, a2, b, c := udpClient(t, u), udpClient(t, u), udpClient(t, u), udpClient(t, u)
	at.set(a, UDPTarget{Addr: s1.addr(), Group: 1})
	at.set(a2, UDPTarget{Addr: s1.addr(), Group: 1})
	at.set(b, UDPTarget{Addr: s1.addr(), Group: 2})
	at.set(c, UDPTarget{Addr: s1.addr(), Group: 3})
	roundTrip(t, a, "a")
	a2.Write([]byte("a2"))
	rdptest.Eventually(t, 5*time.Second, "a2 dropped: its session has its flow", func() bool {
		return u.Stats().DroppedSessionFull == 1
	})
	roundTrip(t, b, "b")
	c.Write([]byte("c"))
	rdptest.Eventually(t, 5*time.Second, "c dropped: max_flows", func() bool { return u.Stats().DroppedFull == 1 })
	for _, m := range s1.seen() {
		if m == "a2" || m == "c" {
			t.Errorf("server saw %q", m)
		}
	}
}

func TestUDPFlowEnds(t *testing.T) {
	s1 := startUDPServer(t, "s1")
	at := &byPort{targets: map[uint16]UDPTarget{}}
	var dead sync.Map // groups whose session ended
	cfg := testUDPConfig()
	cfg.IdleTimeout = 200 * time.Millisecond
	u := startUDP(t, cfg, UDPOptions{Attach: at.attach, Alive: func(g uint64) bool { _, d := dead.Load(g); return !d }})
	idle, sess, grp := udpClient(t, u), udpClient(t, u), udpClient(t, u)
	at.set(idle, UDPTarget{Addr: s1.addr(), Group: 1})
	at.set(sess, UDPTarget{Addr: s1.addr(), Group: 2})
	at.set(grp, UDPTarget{Addr: s1.addr(), Group: 3})
	roundTrip(t, idle, "idle")
	roundTrip(t, grp, "grp")
	if n := u.EndGroup(3); n != 1 {
		t.Errorf("EndGroup = %d", n)
	}
	rdptest.Eventually(t, 5*time.Second, "the idle flow ended", func() bool { return u.Stats().EndedIdle == 1 })
	// A flow kept busy outlives idle_timeout, and ends with its session.
	deadline := time.Now().Add(2 * cfg.IdleTimeout)
	for time.Now().Before(deadline) {
		roundTrip(t, sess, "busy")
	}
	if st := u.Stats(); st.Active != 1 {
		t.Fatalf("busy flow ended: %+v", st)
	}
	dead.Store(uint64(2), true)
	rdptest.Eventually(t, 5*time.Second, "the flow of the ended session gone", func() bool {
		st := u.Stats()
		return st.Active == 0 && st.EndedSession == 2
	})
	// Its client is a stranger now: Attach is asked again.
	before := at.calls.Load()
	sess.Write([]byte("after"))
	rdptest.Eventually(t, 5*time.Second, "attach asked again", func() bool { return at.calls.Load() > before })
}

func TestUDPOversizeDropped(t *testing.T) {
	s1 := startUDPServer(t, "s1")
	at := &byPort{targets: map[uint16]UDPTarget{}}
	u := startUDP(t, testUDPConfig(), UDPOptions{Attach: at.attach})
	a := udpClient(t, u)
	at.set(a, UDPTarget{Addr: s1.addr(), Group: 1})
	roundTrip(t, a, "first")
	a.Write([]byte("big one"))
	rdptest.Eventually(t, 5*time.Second, "oversize reply dropped", func() bool { return u.Stats().DroppedOversize == 1 })
	if got := roundTrip(t, a, "after"); got != "s1:after" {
		t.Errorf("got %q", got)
	}
}

func TestUDPConfigValidate(t *testing.T) {
	if err := DefaultUDPConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	err := UDPConfig{IdleTimeout: -1, MaxFlows: 0, MaxFlowsPerSession: -2}.Validate()
	for _, want := range []string{"idle_timeout: -1ns: must be > 0", "max_flows: 0: must be > 0", "max_flows_per_session: -2: must be > 0"} {
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}
