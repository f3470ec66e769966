package main

// The scenario's world (scenario_e2e_test.go): a Samba AD DC with the
// groups of the story, four xrdp servers in two pools, two peered
// rdpbroker processes with their admin sockets and status pages. Built on
// the real-RDP harness (realrdp_test.go) and directory/adtest.

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/rdpbroker/rdpbroker/directory/adtest"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// The pools and their servers; users of the story and the pool the rules
// must send them to (before step 2 adds heidi to Accounting).
var (
	scenarioPools = map[string][]string{
		"accounting": {"acc1", "acc2"},
		"general":    {"gen1", "gen2"},
	}
	// Accounting: alice directly, bob through Payroll (nested); Marketing
	// (frank) is nested in Sales. carol and heidi are in none of the
	// groups the rules name.
	scenarioUsers = map[string]string{
		"alice": "accounting", "bob": "accounting",
		"carol": "general", "erin": "general", "frank": "general", "heidi": "general",
	}
)

// requireScenario skips unless RDPBROKER_E2E_REAL=1, root and every
// program the scenario runs are there.
func requireScenario(t *testing.T) rdpTools {
	t.Helper()
	if os.Getenv(realRDPEnv) != "1" {
		t.Skip("the administrator's scenario: set " + realRDPEnv + "=1 (make e2e, make test)")
	}
	if err := adtest.Available(); err != nil {
		t.Skipf("the administrator's scenario needs a Samba AD DC: %v", err)
	}
	var missing []string
	for _, p := range []string{"xrdp", "xfreerdp", "xvfb-run", "xauth"} {
		if _, err := exec.LookPath(p); err != nil {
			if _, serr := os.Stat("/usr/sbin/" + p); serr != nil {
				missing = append(missing, p)
			}
		}
	}
	if len(missing) > 0 {
		t.Skipf("the administrator's scenario needs %s: run scripts/install-test-deps.sh (make test-deps)",
			strings.Join(missing, ", "))
	}
	return requireRealRDP(t)
}

// scenario is the running world.
type scenario struct {
	t   *testing.T
	dir string
	bin string
	// certs names the xrdp server of each certificate (DER): each has
	// its own, so a TLS handshake says which server a client reached.
	certs   map[string]string
	dc      *adtest.Fixture
	servers map[string]*xrdpServer
	client  *rdpClient
	b1, b2  *node
	// placed is where each user's last connection really went (from the
	// xrdp logs): the server their session is on.
	placed map[string]string
	tags   int // client computer names handed out so far
	// lastSync is when both brokers' last successful directory sync had
	// ended (step 2).
	lastSync time.Time
}

// node is one rdpbroker of the peered pair and what stays the same across
// its restarts: socket, HTTP endpoint, peer address, state directory.
type node struct {
	name    string
	sock    string
	http    string
	peer    string
	state   string
	config  func(listen string) string
	proc    *brokerProc
	history []*brokerProc // every process started, proc last
	starts  int
}

func (n *node) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.proc.port) }

// newScenario starts the whole world; everything stops on t's cleanup.
func newScenario(t *testing.T, tools rdpTools) *scenario {
	t0 := time.Now()
	s := &scenario{t: t, dir: t.TempDir(), servers: map[string]*xrdpServer{}, placed: map[string]string{}}
	waitBuild := buildBroker(s.dir)
	t.Cleanup(func() { waitBuild() })
	waitDC := startDCAsync(t)
	s.certs = map[string]string{}
	for _, names := range scenarioPools {
		for _, n := range names {
			dir := filepath.Join(s.dir, "cert-"+n)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			cert, key := writeTestCert(t, dir)
			s.certs[certDER(t, cert)] = n
			s.servers[n] = startXRDP(t, tools, n, cert, key)
		}
	}
	s.client = newRDPClient(t, tools)
	dc, err := waitDC()
	if err != nil {
		t.Fatalf("samba AD DC: %v", err)
	}
	t.Logf("samba AD DC up on %s after %v", dc.IP, time.Since(t0).Round(100*time.Millisecond))
	s.dc = dc
	if err := populateStory(dc); err != nil {
		t.Fatalf("samba AD DC: the story's groups: %v", err)
	}
	if s.bin, err = waitBuild(); err != nil {
		t.Fatal(err)
	}
	s.startPair()
	return s
}

// startDCAsync starts the DC in the background (it takes 20-30 s, the
// xrdp servers and the build meanwhile) and returns a function waiting
// for it. The DC is stopped and its directory removed on t's cleanup,
// also when the test ends before the DC is up.
func startDCAsync(t *testing.T) func() (*adtest.Fixture, error) {
	dir, err := os.MkdirTemp("", "rdpbroker-ad-") // short: samba's socket paths must fit
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var f *adtest.Fixture
	var startErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, startErr = adtest.Start(ctx, dir)
	}()
	wait := func() (*adtest.Fixture, error) { <-done; return f, startErr }
	t.Cleanup(func() {
		cancel()
		if f, _ := wait(); f != nil {
			f.Stop()
		}
		os.RemoveAll(dir)
	})
	return wait
}

// populateStory adds the story's groups to the fixture's directory:
// Accounting (alice, judy and the nested Payroll: bob, ivan) and Marketing
// (frank), nested in the fixture's Sales (dave, erin).
func populateStory(f *adtest.Fixture) error {
	c, err := f.Admin()
	if err != nil {
		return err
	}
	defer c.Close()
	add := func(name string, members ...string) error {
		r := ldap.NewAddRequest(adtest.GroupDN(name), nil)
		r.Attribute("objectClass", []string{"group"})
		r.Attribute("sAMAccountName", []string{name})
		r.Attribute("member", members)
		if err := c.Add(r); err != nil {
			return fmt.Errorf("add group %s: %w", name, err)
		}
		return nil
	}
	if err := add("Payroll", adtest.UserDN("Bob Jones"), adtest.UserDN("Ivan Petrov")); err != nil {
		return err
	}
	if err := add("Accounting", adtest.UserDN("Alice Smith"), adtest.UserDN("Judy Garcia"), adtest.GroupDN("Payroll")); err != nil {
		return err
	}
	if err := add("Marketing", adtest.UserDN("Frank Miller")); err != nil {
		return err
	}
	return f.AddMember(adtest.GroupDN("Sales"), adtest.GroupDN("Marketing"))
}

// startPair writes the shared files and starts both brokers, each
// ready: serving, the directory synced from LDAP, the peer in contact.
func (s *scenario) startPair() {
	t := s.t
	secret := filepath.Join(s.dir, "peer.key")
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*13 + 5)
	}
	password := filepath.Join(s.dir, "ldap.secret")
	for path, data := range map[string]string{secret: base64.StdEncoding.EncodeToString(key) + "\n", password: adtest.AdminPass} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.b1 = &node{name: "b1", sock: filepath.Join(s.dir, "b1.sock"), http: rdptest.FreeAddr(t),
		peer: rdptest.FreeTCPUDPAddr(t), state: filepath.Join(s.dir, "b1")}
	s.b2 = &node{name: "b2", sock: filepath.Join(s.dir, "b2.sock"), http: rdptest.FreeAddr(t),
		peer: rdptest.FreeTCPUDPAddr(t), state: filepath.Join(s.dir, "b2")}
	s.b1.config = s.brokerConfig(s.b1, s.b2, secret, password)
	s.b2.config = s.brokerConfig(s.b2, s.b1, secret, password)
	s.start(t, s.b1)
	s.start(t, s.b2)
	s.waitPeers(t)
}

// brokerConfig is the configuration of n, peered with other. method:
// walk, because Samba evaluates LDAP_MATCHING_RULE_IN_CHAIN against every
// object of the base (the fixture's 1,600 bulk users): over a minute per
// group on a loaded machine, where walking the groups' members takes
// milliseconds. interval: 1h, so that only `ctl sync now` syncs.
func (s *scenario) brokerConfig(n, other *node, secret, password string) func(string) string {
	pools := ""
	for _, p := range []string{"accounting", "general"} {
		var list []string
		for _, name := range scenarioPools[p] {
			list = append(list, fmt.Sprintf("{name: %s, address: %q}", name, s.servers[name].addr()))
		}
		pools += fmt.Sprintf(`  - name: %s
    balance: leastconn
    health: {check: rdp, interval: 1s, timeout: 3s, rise: 1, fall: 3}
    servers: [%s]
`, p, strings.Join(list, ", "))
	}
	return func(listen string) string {
		return fmt.Sprintf(`listen: %s
inspect_timeout: 2s
state_dir: %q
shutdown_timeout: 3s
default_pool: general
admin: {socket: %q, http: %q}
affinity: {flush_interval: 50ms, down_grace: %s}
peers: {node: %s, listen: %s, members: [%s], secret_file: %q, push_pull_interval: 2s, join_retry_interval: 300ms}
directory:
  urls: [%q]
  ca_file: %q
  bind_dn: 'CORP\Administrator'
  bind_password_file: %q
  base_dn: %q
  interval: 1h
  method: walk
  groups: {Accounting: Accounting, Marketing: Marketing, Sales: Sales}
pools:
%srules:
  - {name: accounting, pool: accounting, groups: [Accounting]}
  - {name: sales, pool: general, groups: [Sales]}
`, listen, n.state, n.sock, n.http, scenarioDownGrace, n.name, n.peer, other.peer, secret,
			s.dc.LDAPS(), s.dc.CA, password, adtest.BaseDN, pools)
	}
}

// scenarioDownGrace is affinity.down_grace: long enough to see a refusal
// within it on a loaded machine, short enough to wait for its end.
const scenarioDownGrace = 12 * time.Second

// start starts (or restarts) n and waits, on behalf of t, until it serves
// with its directory synced from LDAP. The process belongs to the whole
// scenario: it is stopped on the scenario's cleanup, not at the end of a
// step.
func (s *scenario) start(t *testing.T, n *node) {
	t.Helper()
	n.starts++
	n.proc = startBroker(s.t, s.bin, fmt.Sprintf("broker-%s-%d", n.name, n.starts), n.config)
	n.history = append(n.history, n.proc)
	e := s.ctlEnv(t)
	t0 := time.Now()
	if ok, why := rdptest.Poll(firstSyncTimeout, func() (bool, string) {
		st := s.status(e, n)
		if st.Directory == nil || st.Directory.Source != "ldap" {
			return false, fmt.Sprintf("%s: directory not synced from LDAP yet: %+v", n.name, st.Directory)
		}
		return true, ""
	}); !ok {
		t.Fatalf("not within %v: %s\n%s", firstSyncTimeout, why, tail(n.proc.log(), 30))
	}
	t.Logf("%s serving on %s, directory synced after %v", n.name, n.addr(), time.Since(t0).Round(100*time.Millisecond))
}

// firstSyncTimeout bounds a broker's first directory sync (the fixture's
// directory has 1,600 more users; a loaded machine makes Samba slow).
const firstSyncTimeout = 90 * time.Second

// waitPeers waits until each broker is in contact with the other.
func (s *scenario) waitPeers(t *testing.T) {
	t.Helper()
	e := s.ctlEnv(t)
	for _, x := range [][2]*node{{s.b1, s.b2}, {s.b2, s.b1}} {
		rdptest.EventuallyWhy(t, logTimeout, func() string {
			st := s.status(e, x[0])
			for _, p := range st.Peers {
				if p.Name == x[1].name && p.Connected {
					return ""
				}
			}
			return fmt.Sprintf("%s: peer %s not in contact: %+v", x[0].name, x[1].name, st.Peers)
		})
	}
}
