package appliance

import (
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

const udpConfig = `
listen: 127.0.0.1:0
inspect_timeout: 500ms
connect_timeout: 1s
state_dir: "{{state_dir}}"
default_pool: pc
udp: {enabled: true, idle_timeout: 30s}
pools:
  - name: pa
    health: {check: none}
    servers: [{name: ts01, address: "{{ts01}}", udp_address: "{{ts01udp}}"}]
  - name: pb
    health: {check: none}
    servers: [{name: ts02, address: "{{ts02}}", udp_address: "{{ts02udp}}"}]
  - name: pc
    health: {check: none}
    servers: [{name: ts03, address: "{{ts03}}", udp_address: "{{ts03udp}}"}]
rules:
  - {name: a, pool: pa, logins: [alice]}
  - {name: b, pool: pb, logins: [bob]}
`

// rdpFrom connects to addr from the loopback address local like an RDP
// client sending req, and reads the Connection Confirm.
func rdpFrom(t *testing.T, local, addr string, req rdp.ConnRequest) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 3 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(rdp.BuildConnectionRequest(req)); err != nil {
		t.Fatal(err)
	}
	if _, err := rdp.ReadConnectionConfirm(c); err != nil {
		t.Fatalf("%s from %s: connection confirm: %v", req.Cookie, local, err)
	}
	c.SetDeadline(time.Time{})
	return c
}

func cookieReq(cookie string, id *[16]byte) rdp.ConnRequest {
	req := rdp.ConnRequest{HasNegReq: true, RequestedProtocols: rdptest.ClientProtocols}
	if cookie != "" {
		req.Cookie = cookie
		req.Token = rdp.RoutingToken{Kind: rdp.TokenCookie, Raw: rdp.CookiePrefix + cookie}
	}
	if id != nil {
		req.HasCorrelation, req.CorrelationID = true, *id
	}
	return req
}

// synOf is a client SYN (MS-RDPEUDP 2.2.2), with a correlation id when id
// is not nil.
func synOf(id *[16]byte) []byte {
	s := rdp.UDPSyn{ReceiveWindowSize: 64, InitialSequenceNumber: 0x1234, UpStreamMTU: rdp.UDPMaxMTU,
		DownStreamMTU: rdp.UDPMaxMTU, HasSynEx: true, SynExFlags: rdp.UDPSynExVersionInfoValid, Version: rdp.UDPVersion2}
	if id != nil {
		s.HasCorrelation, s.CorrelationID = true, *id
	}
	return rdp.BuildUDPSyn(s)
}

// fakeUDP is a server's UDP side: it records what reaches it and answers
// each datagram with its name.
type fakeUDP struct {
	name string
	conn *net.UDPConn
	mu   sync.Mutex
	got  [][]byte
}

func startFakeUDP(t *testing.T, name string) *fakeUDP {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	f := &fakeUDP{name: name, conn: c}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			f.mu.Lock()
			f.got = append(f.got, append([]byte(nil), buf[:n]...))
			f.mu.Unlock()
			c.WriteToUDPAddrPort([]byte(name), from)
		}
	}()
	return f
}

func (f *fakeUDP) seen() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.got...)
}

// udpFrom is a client UDP socket on local, talking to the broker.
func udpFrom(t *testing.T, local string, b *testBroker) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(local)}, b.UDPAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// udpExchange sends msg until a server answers (the first datagrams may come
// while the flow opens) and returns the answering server's name.
func udpExchange(t *testing.T, c *net.UDPConn, msg []byte) string {
	t.Helper()
	buf := make([]byte, 64)
	for range 50 {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := c.Read(buf); err == nil {
			return string(buf[:n])
		}
	}
	t.Fatalf("%s: no answer", c.LocalAddr())
	return ""
}

func TestUDPFlowsFollowTheirSessions(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03")
	udp := map[string]*fakeUDP{"ts01": startFakeUDP(t, "ts01"), "ts02": startFakeUDP(t, "ts02"), "ts03": startFakeUDP(t, "ts03")}
	var extra []string
	for n, u := range udp {
		extra = append(extra, "{{"+n+"udp}}", u.conn.LocalAddr().String())
	}
	b := startBroker(t, writeConfig(t, udpConfig, servers, extra...))
	idA := [16]byte{0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	idB := [16]byte{0x22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

	// Two clients behind one address, told apart by their correlation ids.
	alice := rdpFrom(t, "127.0.0.1", b.addr, cookieReq("alice", &idA))
	bob := rdpFrom(t, "127.0.0.1", b.addr, cookieReq("bob", &idB))
	bobUDP, aliceUDP := udpFrom(t, "127.0.0.1", b), udpFrom(t, "127.0.0.1", b)
	if got := udpExchange(t, bobUDP, synOf(&idB)); got != "ts02" {
		t.Errorf("bob's flow answered by %s", got)
	}
	if got := udpExchange(t, aliceUDP, synOf(&idA)); got != "ts01" {
		t.Errorf("alice's flow answered by %s", got)
	}
	if got := udpExchange(t, aliceUDP, dataDatagram("alice data")); got != "ts01" {
		t.Errorf("alice's data answered by %s", got)
	}
	// A client without correlation id, alone on its address.
	carol := rdpFrom(t, "127.0.0.2", b.addr, cookieReq("carol", nil))
	carolUDP := udpFrom(t, "127.0.0.2", b)
	if got := udpExchange(t, carolUDP, synOf(nil)); got != "ts03" {
		t.Errorf("carol's flow answered by %s", got)
	}

	// Flows matching nothing: no session on the address, two sessions and
	// no id, an unknown id from an address whose one session has another,
	// and a datagram that starts no flow.
	idD, idX := [16]byte{0x44, 9}, [16]byte{0x55, 9}
	rdpFrom(t, "127.0.0.4", b.addr, cookieReq("dave", &idD))
	udpFrom(t, "127.0.0.3", b).Write(synOf(nil))
	udpFrom(t, "127.0.0.1", b).Write(synOf(nil))
	udpFrom(t, "127.0.0.4", b).Write(synOf(&idX))
	udpFrom(t, "127.0.0.3", b).Write(dataDatagram("no flow"))
	rdptest.EventuallyWhy(t, 5*time.Second, func() string {
		st := b.UDPStats()
		if st.DroppedNoSession != 2 || st.DroppedAmbiguous != 1 || st.DroppedNotSyn != 1 || st.DroppedUnattached != 4 {
			return fmt.Sprintf("drops: %+v", st)
		}
		return ""
	})
	st := b.UDPStats()
	if st.Active != 3 || st.AttachedByCorrelation != 2 || st.AttachedByAddress != 1 {
		t.Errorf("stats %+v", st)
	}
	// The sessions API (ctl sessions) shows each session's correlation ID
	// and whether UDP is attached: alice and carol yes, dave no.
	seen := map[string]SessionInfo{}
	for _, si := range b.Sessions() {
		seen[si.Login] = si
	}
	if a := seen["alice"]; !a.UDP || a.CorrelationID != hex.EncodeToString(idA[:]) {
		t.Errorf("alice's session: %+v", a)
	}
	if c := seen["carol"]; !c.UDP || c.CorrelationID != "" {
		t.Errorf("carol's session: %+v", c)
	}
	if d := seen["dave"]; d.UDP || d.CorrelationID != hex.EncodeToString(idD[:]) {
		t.Errorf("dave's session: %+v", d)
	}
	want := map[string][]string{"ts01": {synHex(&idA), hex.EncodeToString(dataDatagram("alice data"))},
		"ts02": {synHex(&idB)}, "ts03": {synHex(nil)}}
	for n, u := range udp {
		for _, d := range u.seen() {
			if !slices.Contains(want[n], hex.EncodeToString(d)) {
				t.Errorf("%s received an unexpected datagram of %d bytes: % x...", n, len(d), d[:min(len(d), 24)])
			}
		}
	}

	// A flow ends with its session; its client is a stranger again.
	carol.Close()
	rdptest.Eventually(t, 5*time.Second, "carol's flow ended", func() bool {
		st := b.UDPStats()
		return st.Active == 2 && st.EndedSession == 1
	})
	before := len(udp["ts03"].seen())
	carolUDP.Write(dataDatagram("late data"))
	rdptest.Eventually(t, 5*time.Second, "carol's late datagram dropped", func() bool {
		return b.UDPStats().DroppedNotSyn == 2
	})
	if n := len(udp["ts03"].seen()); n != before {
		t.Errorf("ts03 received %d datagrams after carol's session ended", n-before)
	}
	alice.Close()
	bob.Close()
	rdptest.Eventually(t, 5*time.Second, "three session lines", func() bool { return len(b.log.Messages("session")) == 3 })
	for _, line := range b.log.Messages("session") {
		switch {
		case strings.Contains(line, "login=alice"):
			wantIn(t, line, "correlation_id="+hex.EncodeToString(idA[:]), "udp=yes")
		case strings.Contains(line, "login=bob"):
			wantIn(t, line, "correlation_id="+hex.EncodeToString(idB[:]), "udp=yes")
		default:
			wantIn(t, line, "login=carol", "udp=yes")
			if strings.Contains(line, "correlation_id") {
				t.Errorf("carol sent no correlation id: %s", line)
			}
		}
	}
}

func TestUDPSessionWithoutFlowSaysNo(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03")
	extra := []string{"{{ts01udp}}", "127.0.0.1:9", "{{ts02udp}}", "127.0.0.1:9", "{{ts03udp}}", "127.0.0.1:9"}
	b := startBroker(t, writeConfig(t, udpConfig, servers, extra...))
	c := rdpFrom(t, "127.0.0.1", b.addr, cookieReq("dave", nil))
	c.Close()
	rdptest.Eventually(t, 5*time.Second, "dave's session line", func() bool { return len(b.log.Messages("session")) == 1 })
	wantIn(t, b.log.Messages("session")[0], "login=dave", "udp=no")
}

// dataDatagram is an RDP-UDP datagram after the SYN: RDPUDP_FEC_HEADER
// with RDPUDP_FLAG_ACK, then payload.
func dataDatagram(payload string) []byte {
	return append([]byte{0, 0, 0x12, 0x35, 0, 64, 0, byte(rdp.UDPFlagAck)}, payload...)
}

func synHex(id *[16]byte) string { return hex.EncodeToString(synOf(id)) }

func wantIn(t *testing.T, line string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(line, s) {
			t.Errorf("%q not in %s", s, line)
		}
	}
}
