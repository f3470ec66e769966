package metrics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
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

const e2eConfig = `
listen: 127.0.0.1:0
inspect_timeout: 1s
connect_timeout: 1s
state_dir: "{{state_dir}}"
shutdown_timeout: 200ms
default_pool: general
pools:
  - name: general
    balance: leastconn
    health: {check: tcp, interval: 50ms, timeout: 500ms, rise: 1, fall: 1}
    servers:
      - {name: ts01, address: "{{ts01}}", weight: 10, max_sessions: 20}
      - {name: ts02, address: "{{ts02}}", weight: 5}
`

// startBroker runs a real broker on the YAML tmpl and an admin endpoint
// serving its metrics (appliancetest), until the test ends. It returns the
// broker, its address and the admin base URL.
func startBroker(t *testing.T, tmpl string, servers map[string]*rdptest.Server) (*appliance.Broker, string, string) {
	t.Helper()
	loaded := time.Now()
	tb := appliancetest.Start(t, tmpl, servers, func(b *appliance.Broker, log *slog.Logger) admin.Options {
		reg := NewRegistry(FromBroker(b, BrokerOptions{Version: "v0.0.0-test",
			LastReload: func() (bool, time.Time) { return true, loaded }}), Options{})
		return admin.Options{Logger: log, Metrics: Handler(reg)}
	})
	return tb.Broker, tb.Addr, tb.AdminURL
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	return string(body)
}

// value returns the sample of series (name and labels exactly as
// exposed, labels sorted by name) in a text exposition.
func value(text, series string) (float64, bool) {
	for _, l := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(l, series+" "); ok {
			v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// waitValue scrapes until series has want, and returns the last scrape.
func waitValue(t *testing.T, base, series string, want float64) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		text := scrape(t, base)
		if v, ok := value(text, series); ok && v == want {
			return text
		}
		if time.Now().After(deadline) {
			v, ok := value(text, series)
			t.Fatalf("%s = %v (present %v) after 10s, want %v", series, v, ok, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// promtoolCheck runs `promtool check metrics` on a scrape; it skips when
// promtool is not installed.
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found (Debian package prometheus: apt-get install --no-install-recommends prometheus)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "check", "metrics")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestScrapeUnderTraffic drives real clients through a real broker and
// checks that the scraped values follow, and that promtool finds nothing
// to say about the exposition.
func TestScrapeUnderTraffic(t *testing.T) {
	servers := appliancetest.Farm(t, "ts01", "ts02")
	b, addr, base := startBroker(t, e2eConfig, servers)
	for _, s := range []string{"ts01", "ts02"} {
		waitValue(t, base, fmt.Sprintf(`rdpbroker_server_status{pool="general",server=%q,state="up"}`, s), 1)
	}
	text := scrape(t, base)
	for series, want := range map[string]float64{
		`rdpbroker_server_max_sessions{pool="general",server="ts01"}`: 20,
		`rdpbroker_server_weight{pool="general",server="ts02"}`:       5,
		`rdpbroker_rejects_total{reason="tls"}`:                       0,
		`rdpbroker_affinity_entries`:                                  0,
		`rdpbroker_build_info{version="v0.0.0-test"}`:                 1,
		`rdpbroker_config_last_reload_success`:                        1,
		`rdpbroker_pending_connections`:                               0,
	} {
		if v, ok := value(text, series); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	promtoolCheck(t, text)

	// A session opens: the server that took it counts it, the affinity
	// table holds alice.
	c, _, err := rdptest.Dial(addr, "alice", 3*time.Second)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	waitValue(t, base, `rdpbroker_affinity_entries`, 1)
	text = scrape(t, base)
	on := ""
	for _, s := range []string{"ts01", "ts02"} {
		if v, _ := value(text, fmt.Sprintf(`rdpbroker_server_current_sessions{pool="general",server=%q}`, s)); v == 1 {
			on = s
		}
	}
	if on == "" {
		t.Fatalf("no server shows the open session:\n%s", grep(text, "current_sessions"))
	}
	// ... and closes.
	c.Close()
	waitValue(t, base, fmt.Sprintf(`rdpbroker_server_current_sessions{pool="general",server=%q}`, on), 0)

	// The returning user is an affinity hit.
	c, _, err = rdptest.Dial(addr, "alice", 3*time.Second)
	if err != nil {
		t.Fatalf("returning client: %v", err)
	}
	c.Close()
	waitValue(t, base, `rdpbroker_affinity_outcomes_total{outcome="hit"}`, 1)

	// A refusal is counted by its reason: TLS without X.224.
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5})
	io.Copy(io.Discard, raw) // until the broker closes it
	raw.Close()
	waitValue(t, base, `rdpbroker_rejects_total{reason="tls"}`, 1)
	// Both connections of alice were decided by the default rule into
	// general, with a full cookie; the TLS probe never reached a decision.
	text = scrape(t, base)
	if v, _ := value(text, `rdpbroker_decisions_total{pool="general",rule="default"}`); v != 2 {
		t.Errorf("decisions_total{default,general} = %v, want 2\n%s", v, grep(text, "decisions_total"))
	}
	if v, _ := value(text, `rdpbroker_cookies_total{kind="full"}`); v != 2 {
		t.Errorf("cookies_total{full} = %v, want 2\n%s", v, grep(text, "cookies_total"))
	}

	// A stopped server shows down, and only down.
	servers["ts02"].Close()
	text = waitValue(t, base, `rdpbroker_server_status{pool="general",server="ts02",state="down"}`, 1)
	if v, _ := value(text, `rdpbroker_server_status{pool="general",server="ts02",state="up"}`); v != 0 {
		t.Errorf("ts02 stopped: state up = %v, want 0", v)
	}
	if v, _ := value(text, `rdpbroker_server_status{pool="general",server="ts01",state="up"}`); v != 1 {
		t.Errorf("ts01 running: state up = %v, want 1", v)
	}
	// A drained server shows draining.
	b.Router().Table().Server("ts01").SetAdminState(routing.Drain)
	text = waitValue(t, base, `rdpbroker_server_status{pool="general",server="ts01",state="draining"}`, 1)
	promtoolCheck(t, text)
}

func grep(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
