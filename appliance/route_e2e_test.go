package appliance

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

const routedConfig = `
listen: 127.0.0.1:0
inspect_timeout: 500ms
connect_timeout: 1s
state_dir: "{{state_dir}}"
no_cookie: {{no_cookie}}
default_pool: general
pools:
  - name: general
    health: {check: none}
    servers:
      - {name: ts01, address: "{{ts01}}"}
  - name: sales
    health: {check: none}
    servers:
      - {name: ts02, address: "{{ts02}}"}
  - name: accounting
    health: {check: none}
    servers:
      - {name: ts03, address: "{{ts03}}"}
  - name: vdi
    health: {check: none}
    servers:
      - {name: ts04, address: "{{ts04}}"}
rules:
  - {name: acct, pool: accounting, groups: [Accounting]}
  - {name: sales-people, pool: sales, logins: [alice, bob]}
  - {name: vdi, pool: vdi, collection: VDI}
static_groups:
  Accounting: [carol, dave]
`

func TestRoutesLoginsToPools(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	b := startBroker(t, writeConfig(t, routedConfig, servers, "{{no_cookie}}", "default"))
	tests := []struct {
		name, cookie, want string
	}{
		{"login list", "alice", "ts02"},
		{"domain form", `CORP\bob`, "ts02"},
		{"upper case", "ALICE", "ts02"},
		{"group member", "carol", "ts03"},
		{"group member by UPN", "dave@corp.example.test", "ts03"},
		{"truncated mstsc cookie of a group member", `CORP\caro`, "ts03"},
		{"unknown login goes to default pool", "erin", "ts01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, cc, err := rdptest.Dial(b.addr, tc.cookie, 2*time.Second)
			if err != nil {
				t.Fatalf("dial through broker: %v", err)
			}
			defer c.Close()
			if !cc.HasNeg {
				t.Errorf("confirm without negotiation response: %+v", cc)
			}
			if got := whoSaw(servers, tc.cookie); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("cookie %q reached %v, want [%s]; seen: %s", tc.cookie, got, tc.want, fmtSaw(servers))
			}
		})
	}
}

func TestRoutesTokensAndNoCookie(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	ts04 := netip.MustParseAddrPort(servers["ts04"].Addr())
	tests := []struct {
		name     string
		noCookie string
		req      rdp.ConnRequest
		want     string // server name, or "" when refused
		reject   Reject
	}{
		{name: "tsv collection", noCookie: "default", want: "ts04", req: rdp.ConnRequest{
			Token: rdp.RoutingToken{Kind: rdp.TokenTSV, Raw: "tsv://MS Terminal Services Plugin.1.VDI", Collection: "VDI"}}},
		{name: "no cookie to default pool", noCookie: "default", want: "ts01"},
		{name: "no cookie rejected", noCookie: "reject", reject: RejectNoCookie},
		{name: "msts token naming a configured server", noCookie: "default", want: "ts04", req: rdp.ConnRequest{
			Token: rdp.RoutingToken{Kind: rdp.TokenMSTS, Raw: "Cookie: msts=" + rdp.FormatMSTSToken(ts04), Addr: ts04}}},
		{name: "msts token naming another address", noCookie: "default", reject: RejectTokenRefused, req: rdp.ConnRequest{
			Token: rdp.RoutingToken{Kind: rdp.TokenMSTS, Raw: "Cookie: msts=" + rdp.FormatMSTSToken(netip.MustParseAddrPort("127.0.0.1:22")),
				Addr: netip.MustParseAddrPort("127.0.0.1:22")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]int{}
			for n, s := range servers {
				before[n] = s.Count()
			}
			b := startBroker(t, writeConfig(t, routedConfig, servers, "{{no_cookie}}", tc.noCookie))
			tc.req.HasNegReq, tc.req.RequestedProtocols = true, rdp.ProtocolSSL
			reply, err := exchange(b.addr, rdp.BuildConnectionRequest(tc.req), 2*time.Second)
			if tc.want == "" {
				if len(reply) != 0 {
					t.Errorf("refused client got %d bytes back", len(reply))
				}
				rdptest.Eventually(t, 2*time.Second, "reject counted", func() bool { return b.Counters().Rejected(tc.reject) == 1 })
				for n, s := range servers {
					if s.Count() != before[n] {
						t.Errorf("server %s was contacted for a refused client", n)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if _, err := rdp.ParseConnectionConfirm(reply); err != nil {
				t.Fatalf("reply is not a connection confirm: %v (% x)", err, reply)
			}
			for n, s := range servers {
				if grew := s.Count() > before[n]; grew != (n == tc.want) {
					t.Errorf("server %s contacted=%v, want %v", n, grew, n == tc.want)
				}
			}
		})
	}
}

// exchange sends b and reads one TPKT packet back (nil if the broker closed).
func exchange(addr string, b []byte, timeout time.Duration) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(b); err != nil {
		return nil, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	n := int(hdr[2])<<8 | int(hdr[3])
	if n < 4 {
		return hdr[:], nil
	}
	rest := make([]byte, n-4)
	_, err = io.ReadFull(c, rest)
	return append(hdr[:], rest...), err
}

func TestSplicesDataBothWays(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	b := startBroker(t, writeConfig(t, routedConfig, servers, "{{no_cookie}}", "default"))
	c, _, err := rdptest.Dial(b.addr, "alice", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := make([]byte, 8<<20)
	rand.Read(payload)
	go func() {
		c.Write(payload)
		c.(*net.TCPConn).CloseWrite() // half-close: the echo must still come back whole
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if sha256.Sum256(got) != sha256.Sum256(payload) || len(got) != len(payload) {
		t.Fatalf("echo differs: got %d bytes, want %d", len(got), len(payload))
	}
	rdptest.Eventually(t, 5*time.Second, "session log line", func() bool { return len(b.log.Messages("session")) == 1 })
	line := b.log.Messages("session")[0]
	for _, want := range []string{"cookie=alice", "login=alice", "rule=sales-people", "pool=sales", "server=ts02",
		"bytes_out=8388" /* 8 MiB + CC */, "end=client_closed", "connect=", "duration="} {
		if !strings.Contains(line, want) {
			t.Errorf("session line lacks %q:\n%s", want, line)
		}
	}
	if got := b.Counters().BytesOut.Load(); got < uint64(len(payload)) {
		t.Errorf("BytesOut = %d, want >= %d", got, len(payload))
	}
	if !bytes.Contains([]byte(line), []byte("client=127.0.0.1:")) {
		t.Errorf("session line lacks the client address: %s", line)
	}
}
