package appliance

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// TestBadFirstPackets: every kind of bad first packet is closed within
// inspect_timeout (500ms here), counted under its reason, and the broker
// keeps serving a good client afterwards.
func TestBadFirstPackets(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	b := startBroker(t, writeConfig(t, routedConfig, servers, "{{no_cookie}}", "default"))
	const inspect = 500 * time.Millisecond
	good := rdp.BuildConnectionRequest(rdp.ConnRequest{Cookie: "alice", Token: rdp.RoutingToken{Kind: rdp.TokenCookie, Raw: "Cookie: mstshash=alice"}, HasNegReq: true, RequestedProtocols: 3})
	oversized := append([]byte{0x03, 0x00, 0xff, 0xff, 0xfa, 0xe0}, make([]byte, 600)...)
	tests := []struct {
		name   string
		send   []byte
		slow   bool // one byte every 100ms, never finishing within inspect
		close  bool // close the write side after sending
		reason Reject
	}{
		{name: "tls client hello", send: []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, reason: RejectTLS},
		{name: "http request", send: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), reason: RejectMalformed},
		{name: "wrong x224 code", send: []byte{0x03, 0x00, 0x00, 0x0b, 0x06, 0xd0, 0, 0, 0, 0, 0}, reason: RejectMalformed},
		{name: "inconsistent lengths", send: []byte{0x03, 0x00, 0x00, 0x0b, 0x07, 0xe0, 0, 0, 0, 0, 0}, reason: RejectMalformed},
		{name: "cookie without CRLF", send: append([]byte{0x03, 0x00, 0x00, 0x14, 0x0f, 0xe0, 0, 0, 0, 0, 0}, "Cookie: m"...), reason: RejectMalformed},
		{name: "oversized length", send: oversized, reason: RejectMalformed},
		{name: "truncated then closed", send: good[:len(good)-5], close: true, reason: RejectClosed},
		{name: "truncated and silent", send: good[:len(good)-5], reason: RejectTimeout},
		{name: "nothing at all", reason: RejectTimeout},
		{name: "slow byte per tick", send: good, slow: true, reason: RejectTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Counters().Rejected(tc.reason)
			c, err := net.Dial("tcp", b.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			go func() {
				if !tc.slow {
					c.Write(tc.send)
				} else {
					for _, x := range tc.send {
						if _, err := c.Write([]byte{x}); err != nil {
							return
						}
						time.Sleep(100 * time.Millisecond) // the client's pace, not a wait for the broker
					}
				}
				if tc.close {
					c.(*net.TCPConn).CloseWrite()
				}
			}()
			c.SetReadDeadline(time.Now().Add(inspect + 2*time.Second))
			n, err := io.Copy(io.Discard, c)
			elapsed := time.Since(start)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("broker did not close the client within %v", inspect+2*time.Second)
			}
			if n != 0 {
				t.Errorf("client got %d bytes back", n)
			}
			// The broker's deadline is exact; the margin is for a loaded CI machine.
			if elapsed > inspect+time.Second {
				t.Errorf("closed after %v, want within inspect_timeout %v (+1s scheduling margin)", elapsed, inspect)
			}
			rdptest.Eventually(t, 2*time.Second, "reject counted as "+tc.reason.String(), func() bool {
				return b.Counters().Rejected(tc.reason) == before+1
			})
			// The broker keeps serving.
			gc, _, err := rdptest.Dial(b.addr, "alice", 2*time.Second)
			if err != nil {
				t.Fatalf("good client after bad one: %v", err)
			}
			gc.Close()
		})
	}
	if n := b.Counters().Sessions.Load(); n != uint64(len(tests)) {
		t.Errorf("sessions = %d, want %d (one good client per case)", n, len(tests))
	}
	for n, s := range servers {
		for _, r := range s.Seen() {
			if r.Cookie != "alice" {
				t.Errorf("server %s saw a connection with cookie %q: bad input leaked through", n, r.Cookie)
			}
		}
	}
}

// TestManyConcurrentBadClients: a burst of silent and garbage clients does
// not stop good clients from being served meanwhile.
func TestManyConcurrentBadClients(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	b := startBroker(t, writeConfig(t, routedConfig, servers, "{{no_cookie}}", "default"))
	var conns []net.Conn
	for i := 0; i < 200; i++ {
		c, err := net.Dial("tcp", b.addr)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			c.Write([]byte{0x03, 0x00})
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 20; i++ {
		gc, _, err := rdptest.Dial(b.addr, "bob", 2*time.Second)
		if err != nil {
			t.Fatalf("good client %d while 200 silent clients wait: %v", i, err)
		}
		gc.Close()
	}
	rdptest.Eventually(t, 3*time.Second, "all silent clients timed out", func() bool {
		return b.Counters().Rejected(RejectTimeout) == 200
	})
}

// TestMaxPendingShedsFloods: beyond max_pending clients still sending
// their first packet, new clients are closed at once (not after
// inspect_timeout) and counted; once the silent ones time out, service
// resumes.
func TestMaxPendingShedsFloods(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	path := writeConfig(t, strings.Replace(routedConfig, "inspect_timeout: 500ms", "inspect_timeout: 3s\nmax_pending: 3", 1),
		servers, "{{no_cookie}}", "default")
	b := startBroker(t, path)
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", b.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	rdptest.Eventually(t, 2*time.Second, "3 pending clients", func() bool { return b.Pending() == 3 })
	c, err := net.Dial("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("client over max_pending not closed: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("client over max_pending closed after %v, want at once (inspect_timeout is 3s)", took)
	}
	if n := b.Counters().Rejected(RejectLimit); n != 1 {
		t.Errorf("limit rejects = %d, want 1", n)
	}
	rdptest.Eventually(t, 6*time.Second, "silent clients timed out", func() bool { return b.Pending() == 0 })
	gc, _, err := rdptest.Dial(b.addr, "alice", 2*time.Second)
	if err != nil {
		t.Fatalf("good client after the flood: %v", err)
	}
	gc.Close()
}
