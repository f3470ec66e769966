package main

// `rdpbroker import haproxy` end to end: the two HAProxy configurations of
// the seed (appliance/migrate/testdata/seed-*.cfg) run in a real HAProxy
// 2.6 in front of a fake farm (rdptest servers on 127.0.50.11-18, as the
// seed's 172.16.50.11-18); the same logins go through it; its stick
// tables are dumped from its stats socket; cmdImport translates the
// configuration and seeds affinity from the dump; the real rdpbroker
// binary serves the translation against the same farm, and every login
// must reach the same server as through HAProxy (so the same pool), or be
// one of the differences the import warned about.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/appliance/migrate"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

const haproxyBin = "/usr/sbin/haproxy"

// importLogins are routed through both brokers: in the group files
// (short, of exactly 6 bytes, longer than 6 bytes, case variants) and in
// none. mayDiffer are the logins whose server the import warned could
// differ, with the text the warning must contain.
var (
	importLogins = []string{"acc1", "anna", "mark", "olga", "alice", "bob", "christ", "christopher",
		"brigitte", "maximilian", "alexandros", "zed", "dave", "christian", "nobodyhere"}
	mayDiffer = map[string]string{
		"christian":  "any other login starting with christ goes to the next rule or the default pool now",
		"nobodyhere": "nobody",
	}
)

func TestImportHAProxyEndToEnd(t *testing.T) {
	if _, err := os.Stat(haproxyBin); err != nil {
		t.Skipf("%s not found (apt-get install -y --no-install-recommends haproxy): %v", haproxyBin, err)
	}
	build := buildBroker(t.TempDir())
	for _, tc := range []struct{ name, source string }{
		{"seed-basic", "table"}, {"seed-groups", "stats-socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, err := build()
			if err != nil {
				t.Fatal(err)
			}
			testImport(t, bin, tc.name, tc.source)
		})
	}
}

func testImport(t *testing.T, bin, name, source string) {
	dir := t.TempDir()
	farm, port := startFarm(t)
	orig, err := os.ReadFile(filepath.Join("..", "..", "appliance", "migrate", "testdata", name+".cfg"))
	if err != nil {
		t.Fatal(err)
	}
	aclDir := filepath.Join(dir, "old-server-acl")
	copyDir(t, filepath.Join("..", "..", "appliance", "migrate", "testdata", "acl"), aclDir)
	sock := filepath.Join(dir, "haproxy.sock")
	front := rdptest.FreeAddr(t)
	// The configuration as on the old server, with the farm's loopback
	// addresses and ports: what the import reads (its -f paths do not
	// exist here: --acl-root).
	cfg := strings.NewReplacer("172.16.50.", "127.0.50.", "bind *:3389", "bind "+front,
		"3389", strconv.Itoa(port), "*:9000", rdptest.FreeAddr(t), "/var/run/haproxy.sock", sock).Replace(string(orig))
	importCfg := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, importCfg, cfg)
	// HAProxy itself reads the -f files where they are here.
	haCfg := filepath.Join(dir, "haproxy-run.cfg")
	writeFile(t, haCfg, strings.ReplaceAll(cfg, "/usr/local/etc/haproxy/", aclDir+"/"))
	ha := startGroup(t, "haproxy", filepath.Join(dir, "haproxy.out"), os.Environ(), haproxyBin, "-db", "-f", haCfg)
	if ok, why := rdptest.Poll(readyTimeout, func() (bool, string) {
		if ha.exited() {
			return true, "exited"
		}
		for _, a := range []struct{ network, addr string }{{"tcp", front}, {"unix", sock}} {
			c, err := net.DialTimeout(a.network, a.addr, time.Second)
			if err != nil {
				return false, err.Error()
			}
			c.Close()
		}
		return true, ""
	}); !ok || ha.exited() {
		t.Fatalf("haproxy not ready: %s\n%s", why, ha.describe())
	}

	viaHAProxy := map[string]string{}
	for _, l := range importLogins {
		viaHAProxy[l] = routeThrough(t, farm, front, l)
	}

	out := filepath.Join(dir, "etc", "rdpbroker.yaml")
	state := filepath.Join(dir, "state")
	args := []string{"haproxy", "--config", importCfg, "--acl-root", aclDir, "--out", out, "--state-dir", state}
	if source == "table" {
		// Without group files, the only logins the import knows are the
		// directory's: every test login but nobodyhere.
		var known []string
		for _, l := range importLogins {
			if l != "nobodyhere" {
				known = append(known, l)
			}
		}
		writeFile(t, filepath.Join(dir, "known.txt"), strings.Join(known, "\n")+"\n")
		args = append(args, "--known-logins", filepath.Join(dir, "known.txt"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		dump, err := migrate.ReadStatsSocket(ctx, sock, []string{"BK_RDP"})
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "table.txt"), string(dump))
		args = append(args, "--table", filepath.Join(dir, "table.txt"))
	} else {
		args = append(args, "--stats-socket", sock)
	}
	var stdout, stderr bytes.Buffer
	if code := cmdImport(args, &stdout, &stderr); code != 0 {
		t.Fatalf("import exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	report := stdout.String()
	t.Logf("import output:\n%s", report)
	if m := regexp.MustCompile(`users seeded: (\d+)`).FindStringSubmatch(report); m == nil || m[1] == "0" {
		t.Fatalf("no user seeded:\n%s", report)
	}
	if _, err := appliance.LoadConfig(out); err != nil {
		t.Fatalf("translation does not pass check-config: %v", err)
	}
	yaml, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ha.stop() // the switch: HAProxy goes, rdpbroker takes over
	listenLine := regexp.MustCompile(`(?m)^listen: .*$`)
	b := startBroker(t, bin, "rdpbroker-"+name, func(listen string) string {
		return listenLine.ReplaceAllString(string(yaml), "listen: "+strconv.Quote(listen))
	})
	brokerAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	same := 0
	for _, l := range importLogins {
		got, want := routeThrough(t, farm, brokerAddr, l), viaHAProxy[l]
		switch {
		case got == want:
			same++
		case mayDiffer[l] != "" && strings.Contains(report, mayDiffer[l]):
			t.Logf("%s: HAProxy %s, rdpbroker %s: a difference the import warned about (%q)", l, want, got, mayDiffer[l])
		default:
			t.Errorf("%s: HAProxy sent it to %s, rdpbroker to %s, without a warning\n%s", l, want, got, b.proc.describe())
		}
	}
	if same < len(importLogins)-len(mayDiffer) {
		t.Errorf("only %d of %d logins reached the same server", same, len(importLogins))
	}
	// Not by chance: every login the import could map went by its
	// seeded affinity entry. A session's line is written when both its
	// sides have closed, a moment after the client's close: wait for it.
	for _, l := range importLogins {
		if mayDiffer[l] != "" {
			continue
		}
		hit := map[string]string{"login": l, "affinity": "hit"}
		if ok, _ := rdptest.Poll(5*time.Second, func() (bool, string) { return hasLogLine(b.log(), "session", hit), "" }); !ok {
			t.Errorf("%s: no affinity=hit session line: not seeded\n%s", l, b.proc.describe())
		}
	}
}

// startFarm starts TS01..TS08 on 127.0.50.11..18, all on one port (the
// seed's tcp-check connect port is the same for every server).
func startFarm(t *testing.T) (map[string]*rdptest.Server, int) {
	t.Helper()
	for range 20 {
		port := rdptest.FreePort(t)
		farm := map[string]*rdptest.Server{}
		ok := true
		for i := 1; i <= 8 && ok; i++ {
			n := fmt.Sprintf("TS%02d", i)
			s, err := rdptest.Start(rdptest.Config{Name: n, Addr: fmt.Sprintf("127.0.50.%d:%d", 10+i, port)})
			if err != nil {
				ok = false
				break
			}
			t.Cleanup(func() { s.Close() })
			farm[n] = s
		}
		if ok {
			return farm, port
		}
		for _, s := range farm {
			s.Close()
		}
	}
	t.Fatal("no port free on 127.0.50.11-18")
	return nil, 0
}

// routeThrough connects login through the broker at addr and returns the
// farm server that received it.
func routeThrough(t *testing.T, farm map[string]*rdptest.Server, addr, login string) string {
	t.Helper()
	before := map[string]int{}
	for n, s := range farm {
		before[n] = countCookie(s, login)
	}
	c, _, err := rdptest.Dial(addr, login, 5*time.Second)
	if err != nil {
		t.Fatalf("%s through %s: %v", login, addr, err)
	}
	c.Close()
	for n, s := range farm {
		if countCookie(s, login) > before[n] {
			return n
		}
	}
	t.Fatalf("%s through %s: no server saw it", login, addr)
	return ""
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-r", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -r %s %s: %v\n%s", from, to, err, out)
	}
}

func TestImportExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.cfg")
	writeFile(t, bad, "backend b\n server s 10.0.0.1:3389\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: rdpbroker import haproxy"},
		{[]string{"nginx"}, 2, "usage"},
		{[]string{"haproxy", "--config", bad}, 2, "usage"},
		{[]string{"haproxy", "--config", bad, "--out", filepath.Join(dir, "o.yaml"), "--table", "t", "--stats-socket", "s"}, 2, "usage"},
		{[]string{"haproxy", "--config", filepath.Join(dir, "missing.cfg"), "--out", filepath.Join(dir, "o.yaml")}, 1, "no such file"},
		{[]string{"haproxy", "--config", bad, "--out", filepath.Join(dir, "o.yaml")}, 1, "no TCP frontend"},
	} {
		var stdout, stderr bytes.Buffer
		if code := cmdImport(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}
