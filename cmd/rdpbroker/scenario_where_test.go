package main

// Where did a connection really go? The scenario asks the xrdp servers,
// never the broker. Each xfreerdp login sends a computer name of its own
// (/client-hostname:scnNNNN) and xrdp logs it ("Connected client computer
// name: scn0007") once the client got through TLS and the MCS Connect
// Initial: the one server whose log shows the name is where that login
// went. The broker's health probes never get that far, so they disturb
// nothing. A raw client (rdptest.Dial) is attributed by its TLS handshake:
// each xrdp server has a certificate of its own.

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// nextTag is a computer name no other login of the scenario uses.
func (s *scenario) nextTag() string {
	s.tags++
	return fmt.Sprintf("scn%04d", s.tags)
}

// reached lists the servers whose log shows the client computer name tag.
func (s *scenario) reached(tag string) []string {
	re := regexp.MustCompile(`(?m)Connected client computer name: ` + tag + `$`)
	var got []string
	for name, srv := range s.servers {
		if re.MatchString(srv.log()) {
			got = append(got, name)
		}
	}
	sort.Strings(got)
	return got
}

// land logs user in through n with xfreerdp and returns the server whose
// log shows that very login ("" after reporting an error on t).
func (s *scenario) land(t *testing.T, n *node, user string) string {
	t.Helper()
	tag := s.nextTag()
	out, err := s.client.login(t, n.addr(), "/u:"+user, "/client-hostname:"+tag)
	if err != nil {
		t.Errorf("%s through %s: xfreerdp: %v\n%s\n%s", user, n.name, err, tail(out, 20), s.describe(n))
		return ""
	}
	var got []string
	if ok, _ := rdptest.Poll(logTimeout, func() (bool, string) {
		got = s.reached(tag)
		return len(got) > 0, ""
	}); !ok {
		t.Errorf("%s through %s: xfreerdp exited 0 but no xrdp logged its computer name %s\n%s", user, n.name, tag, s.describe(n))
		return ""
	}
	if len(got) != 1 {
		t.Errorf("%s through %s: computer name %s logged by %v, want one server", user, n.name, tag, got)
		return ""
	}
	return got[0]
}

// expectPool logs user in through n: they must reach a server of pool,
// which becomes their placement.
func (s *scenario) expectPool(t *testing.T, n *node, user, pool string) string {
	t.Helper()
	got := s.land(t, n, user)
	if got != "" && !slices.Contains(scenarioPools[pool], got) {
		t.Errorf("%s through %s reached %s, want a server of pool %s %v", user, n.name, got, pool, scenarioPools[pool])
	}
	if got != "" {
		s.placed[user] = got
	}
	return got
}

// expectSame logs user in through n: they must reach their placement.
func (s *scenario) expectSame(t *testing.T, n *node, user string) {
	t.Helper()
	want := s.placed[user]
	if want == "" {
		t.Fatalf("%s has no placement yet", user)
	}
	if got := s.land(t, n, user); got != "" && got != want {
		t.Errorf("%s through %s reached %s, want %s (where their session is)", user, n.name, got, want)
	}
}

// expectRefused logs user in through n: xfreerdp must fail and no server
// log its computer name.
func (s *scenario) expectRefused(t *testing.T, n *node, user string) {
	t.Helper()
	tag := s.nextTag()
	out, err := s.client.login(t, n.addr(), "/u:"+user, "/client-hostname:"+tag)
	if err == nil {
		t.Errorf("%s through %s: xfreerdp exited 0, want refused (reached %v)\n%s", user, n.name, s.reached(tag), tail(out, 10))
	}
	if got := s.reached(tag); len(got) > 0 {
		t.Errorf("%s through %s: refused, yet %v logged its computer name %s", user, n.name, got, tag)
	}
}

// describe is n's log tail and the xrdp servers' log tails, for failures.
func (s *scenario) describe(n *node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s log:\n%s\n", n.name, tail(n.proc.log(), 15))
	for _, name := range []string{"acc1", "acc2", "gen1", "gen2"} {
		fmt.Fprintf(&b, "xrdp %s log:\n%s\n", name, tail(s.servers[name].log(), 5))
	}
	return b.String()
}

// openSession connects through n like an RDP client with login's cookie
// and reads the Connection Confirm a real xrdp sent: the TLS handshake is
// next (finishTLS).
func (s *scenario) openSession(t *testing.T, n *node, login string) net.Conn {
	t.Helper()
	c, cc, err := rdptest.Dial(n.addr(), login, 5*time.Second)
	if err != nil {
		t.Fatalf("%s through %s: %v\n%s", login, n.name, err, s.describe(n))
	}
	if cc.SelectedProtocol != rdp.ProtocolSSL {
		c.Close()
		t.Fatalf("%s through %s: the server selected protocol %#x, want SSL (xrdp's)", login, n.name, cc.SelectedProtocol)
	}
	return c
}

// finishTLS does the TLS handshake over c and returns the server whose
// certificate came back: each xrdp server has its own.
func (s *scenario) finishTLS(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake with xrdp through the broker: %v", err)
	}
	peer := tc.ConnectionState().PeerCertificates
	if len(peer) == 0 || s.certs[string(peer[0].Raw)] == "" {
		t.Fatalf("TLS through the broker: the peer's certificate is none of the xrdp servers'")
	}
	return s.certs[string(peer[0].Raw)]
}

// certDER is the DER of the certificate in the PEM file path.
func certDER(t *testing.T, path string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(readFile(path)))
	if block == nil {
		t.Fatalf("%s: no PEM certificate", path)
	}
	return string(block.Bytes)
}
