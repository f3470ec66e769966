package statuspage

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/appliance/appliancetest"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
	"github.com/rdpbroker/rdpbroker/routing"
)

// ScreenshotEnv names a file (absolute path) the Chromium test writes its
// screenshot to: docs/statuspage.png is made with
// RDPBROKER_STATUSPAGE_SCREENSHOT=$PWD/docs/statuspage.png go test
// -run Chromium ./appliance/statuspage. Unset: a temporary file.
const ScreenshotEnv = "RDPBROKER_STATUSPAGE_SCREENSHOT"

const e2eConfig = `
listen: 127.0.0.1:0
inspect_timeout: 1s
connect_timeout: 1s
state_dir: "{{state_dir}}"
shutdown_timeout: 200ms
default_pool: general
static_groups: {Accounting: [carol, dave]}
rules:
  - {name: accounting, pool: accounting, groups: [Accounting]}
pools:
  - name: general
    balance: leastconn
    health: {check: tcp, interval: 50ms, timeout: 500ms, rise: 1, fall: 1}
    servers:
      - {name: ts01, address: "{{ts01}}", weight: 10, max_sessions: 40}
      - {name: ts02, address: "{{ts02}}", weight: 10, max_sessions: 40}
      - {name: ts03, address: "{{ts03}}", weight: 5}
  - name: accounting
    balance: roundrobin
    health: {check: rdp, interval: 50ms, timeout: 500ms, rise: 1, fall: 1}
    servers:
      - {name: acc01, address: "{{acc01}}"}
      - {name: acc02, address: "{{acc02}}"}
`

// startBroker runs a real broker on the farm and an admin endpoint
// serving its status page (appliancetest), until the test ends. It returns
// the broker, its address and the page's URL.
func startBroker(t *testing.T, servers map[string]*rdptest.Server) (*appliance.Broker, string, string) {
	t.Helper()
	loaded := time.Now()
	tb := appliancetest.Start(t, e2eConfig, servers, func(b *appliance.Broker, log *slog.Logger) admin.Options {
		page := New(FromBroker(b, BrokerOptions{Version: "v0.9.0-test",
			Config: func() ConfigLoad { return ConfigLoad{LoadedAt: loaded, LastOK: true} }}), Options{Logger: log})
		return admin.Options{Logger: log, Status: page}
	})
	return tb.Broker, tb.Addr, tb.AdminURL + "/"
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// waitPage fetches the page until every row id has its state class.
func waitPage(t *testing.T, url string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		page, missing := fetch(t, url), ""
		for id, state := range want {
			if !strings.Contains(row(page, id), `class="s-`+state+`"`) {
				missing = id + " " + state
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("page: %s not shown after 10s:\n%s", missing, text(page))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// chromium runs headless Chromium with args on url and returns its
// stdout. It skips when Chromium is not installed.
func chromium(t *testing.T, url string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not found (Debian package chromium: apt-get install -y chromium)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append([]string{"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--user-data-dir=" + t.TempDir()}, args...), url)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Start()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	// Chromium's helpers (zygote, GPU, network service) share its group:
	// none outlives the test, whatever the exit path.
	kill := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	t.Cleanup(kill)
	err = cmd.Wait()
	kill()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// TestStatusPageInChromium renders the page of a real broker in headless
// Chromium: a stopped server shows DOWN, a drained one DRAINING, one in
// maintenance MAINTENANCE, the open sessions and the refusals are counted.
func TestStatusPageInChromium(t *testing.T) {
	servers := map[string]*rdptest.Server{}
	for _, n := range []string{"ts01", "ts02", "ts03", "acc01", "acc02"} {
		servers[n] = rdptest.NewServer(t, rdptest.Config{Name: n})
	}
	b, addr, url := startBroker(t, servers)
	waitPage(t, url, map[string]string{"server-ts01": StateUp, "server-ts02": StateUp, "server-ts03": StateUp,
		"server-acc01": StateUp, "server-acc02": StateUp})

	servers["ts02"].Close()
	tbl := b.Router().Table()
	tbl.Server("ts03").SetAdminState(routing.Drain)
	tbl.Server("acc02").SetAdminState(routing.Maintenance)
	waitPage(t, url, map[string]string{"server-ts01": StateUp, "server-ts02": StateDown, "server-ts03": StateDraining,
		"server-acc01": StateUp, "server-acc02": StateMaint})

	// Clients arrive once the states are shown: alice and bob can only go
	// to ts01, carol to acc01, and their sessions stay open.
	for _, login := range []string{"alice", "bob", "carol"} {
		c, _, err := rdptest.Dial(addr, login, 3*time.Second)
		if err != nil {
			t.Fatalf("client %s: %v", login, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5}) // TLS without X.224: refused
	io.Copy(io.Discard, raw)
	raw.Close()

	dom := chromium(t, url, "--dump-dom")
	for id, label := range map[string]string{"server-ts01": "UP", "server-ts02": "DOWN", "server-ts03": "DRAINING",
		"server-acc01": "UP", "server-acc02": "MAINTENANCE"} {
		if got := text(row(dom, id)); !strings.Contains(got, " "+label+" ") {
			t.Errorf("Chromium: row %s reads %q, want %s", id, got, label)
		}
	}
	txt := text(dom)
	for _, want := range []string{"SERVING on " + addr, "3 sessions", "2 of 5 servers up", "2 / 40", "1 / ∞",
		"Needs attention DOWN ts02 (general, " + servers["ts02"].Addr() + ")", "DRAINING ts03", "MAINTENANCE acc02",
		"Affinity 3 entries", "tls 1 1", "rdpbroker v0.9.0-test"} {
		if !strings.Contains(txt, want) {
			t.Errorf("Chromium: page text lacks %q\n%s", want, txt)
		}
	}

	shot := os.Getenv(ScreenshotEnv)
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "statuspage.png")
	}
	chromium(t, url, "--screenshot="+shot, "--window-size=1280,900", "--hide-scrollbars")
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10000 {
		t.Errorf("screenshot %s: %d bytes, not a page's PNG", shot, len(png))
	}
}
