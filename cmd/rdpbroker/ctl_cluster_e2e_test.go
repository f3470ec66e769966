package main

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// TestCtlClusterWide: a drain on broker A is honoured by its peer B within
// 1 s; B restarted alone (A gone) keeps drain, maint and weight overrides.
func TestCtlClusterWide(t *testing.T) {
	e := newCtlEnv(t, "ts01", "ts02", "ts03", "ts04")
	secret := filepath.Join(e.dir, "peer.key")
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*11 + 3)
	}
	if err := os.WriteFile(secret, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	peerA, peerB := rdptest.FreeTCPUDPAddr(t), rdptest.FreeTCPUDPAddr(t)
	sockA, sockB := filepath.Join(e.dir, "a.sock"), filepath.Join(e.dir, "b.sock")
	servers := e.servers("ts01", "ts02", "ts03", "ts04")
	config := func(node, self, other, sock string) func(string) string {
		return func(listen string) string {
			peers := fmt.Sprintf("peers: {node: %s, listen: %s, members: [%s], secret_file: %q, push_pull_interval: 2s, join_retry_interval: 300ms}",
				node, self, other, secret)
			return farmConfig(listen, filepath.Join(e.dir, node), sock, servers, peers)
		}
	}
	a := startBroker(t, e.bin, "broker-a", config("a", peerA, peerB, sockA))
	b := startBroker(t, e.bin, "broker-b", config("b", peerB, peerA, sockB))
	for _, x := range []struct {
		sock, peer string
	}{{sockA, "b"}, {sockB, "a"}} {
		rdptest.Eventually(t, logTimeout, "peer "+x.peer+" connected", func() bool {
			var st admin.Status
			e.jsonOK(x.sock, &st, "status")
			return len(st.Peers) == 1 && st.Peers[0].Name == x.peer && st.Peers[0].Connected
		})
	}

	// Measured from this process over b's socket: a ctl process per poll
	// would add its own start-up to the delay.
	clientB := admin.NewSocketClient(sockB)
	stateOnB := func(name string) string {
		var list []admin.ServerInfo
		if err := clientB.Call(t.Context(), "GET", "/api/v1/servers", nil, nil, &list); err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.Name == name {
				return s.State
			}
		}
		return ""
	}
	e.ok(sockA, "drain", "ts01")
	start := time.Now()
	rdptest.Eventually(t, 3*time.Second, "b sees ts01 draining", func() bool {
		return stateOnB("ts01") == admin.StateDraining
	})
	took := time.Since(start)
	if took > time.Second {
		t.Errorf("drain on a reached b after %v, want <= 1s", took)
	}
	t.Logf("drain set on a in force on b after %v", took.Round(time.Millisecond))
	for i := range 8 {
		if got := e.route(b, fmt.Sprintf("viab%02d", i)); got == "ts01" || got == "" {
			t.Errorf("new user through b reached %q while ts01 drains (set on a)", got)
		}
	}
	if s := e.server(sockB, "ts01"); s.Override == nil || !strings.HasPrefix(s.Override.By, "uid 0") {
		t.Errorf("b's ts01 override: %+v, want set by uid 0", s.Override)
	}
	e.ok(sockA, "maint", "ts02")
	e.ok(sockA, "weight", "ts03", "9")
	rdptest.Eventually(t, 2*time.Second, "b has maint and weight", func() bool {
		return e.server(sockB, "ts02").State == admin.StateMaint && e.server(sockB, "ts03").Weight == 9
	})

	// A goes; B restarts alone from its state_dir.
	a.proc.stop()
	b.proc.stop()
	b2 := startBroker(t, e.bin, "broker-b2", config("b", peerB, peerA, sockB))
	for name, want := range map[string]string{"ts01": admin.StateDraining, "ts02": admin.StateMaint, "ts03": admin.StateEnabled} {
		if s := e.server(sockB, name); s.State != want {
			t.Errorf("restarted b: %s is %s, want %s", name, s.State, want)
		}
	}
	if s := e.server(sockB, "ts03"); s.Weight != 9 || s.ConfiguredWeight != 1 {
		t.Errorf("restarted b: ts03 weight %d (configured %d), want 9", s.Weight, s.ConfiguredWeight)
	}
	for i := range 8 {
		if got := e.route(b2, fmt.Sprintf("afterb%02d", i)); got != "ts03" && got != "ts04" {
			t.Errorf("new user through restarted b reached %q, want ts03 or ts04", got)
		}
	}
}

// TestCtlRemoteAdminNeedsToken: the API on admin.http (TLS + token) says
// 401 without the token; with it, calls work and are audited as "token".
func TestCtlRemoteAdminNeedsToken(t *testing.T) {
	e := newCtlEnv(t, "ts01", "ts02")
	cert, keyFile := writeTestCert(t, e.dir)
	tokenFile := filepath.Join(e.dir, "token")
	const token = "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := rdptest.FreeAddr(t)
	state, sock := filepath.Join(e.dir, "state"), filepath.Join(e.dir, "admin.sock")
	startBroker(t, e.bin, "broker", func(listen string) string {
		return fmt.Sprintf(`
listen: %s
state_dir: %q
admin: {socket: %q, http: %q, tls_cert_file: %q, tls_key_file: %q, token_file: %q}
default_pool: farm
pools:
  - name: farm
    health: {check: none}
    servers: %s
`, listen, state, sock, httpAddr, cert, keyFile, tokenFile, e.servers("ts01", "ts02"))
	})
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	base := "https://" + httpAddr
	rdptest.Eventually(t, readyTimeout, "admin https up", func() bool {
		resp, err := hc.Get(base + "/-/healthy")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	for _, method := range []string{"GET /api/v1/status", "POST /api/v1/servers/ts01/drain"} {
		m, path, _ := strings.Cut(method, " ")
		req, _ := http.NewRequest(m, base+path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without token: %d %s, want 401", method, resp.StatusCode, body)
		}
	}
	c := admin.NewHTTPClient(base, token, hc)
	var res admin.Change
	if err := c.Call(t.Context(), "POST", "/api/v1/servers/ts01/drain", nil, admin.ServerChange{}, &res); err != nil {
		t.Fatal(err)
	}
	if s := e.server(sock, "ts01"); s.State != admin.StateDraining {
		t.Errorf("ts01 after a drain over HTTPS: %s", s.State)
	}
	recs := auditLines(t, state)
	if len(recs) != 1 || recs[0].Who != "token" || recs[0].What != "drain" || recs[0].Target != "ts01" {
		t.Errorf("audit after one drain over HTTPS: %+v", recs)
	}
}
