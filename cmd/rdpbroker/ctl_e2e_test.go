package main

// `rdpbroker ctl` against real `rdpbroker serve` processes: every command,
// with its effect asserted on real connections to rdptest fake servers
// (which record the cookie of each connection that reached them).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// ctlEnv is a farm of fake servers, a broker binary and helpers to drive
// `rdpbroker ctl` and clients.
type ctlEnv struct {
	t    *testing.T
	bin  string
	dir  string
	farm map[string]*rdptest.Server
	last map[string]string // login -> the server its last connection reached
}

func newCtlEnv(t *testing.T, names ...string) *ctlEnv {
	t.Helper()
	dir := t.TempDir()
	bin, err := buildBroker(dir)()
	if err != nil {
		t.Fatal(err)
	}
	e := &ctlEnv{t: t, bin: bin, dir: dir, farm: map[string]*rdptest.Server{}, last: map[string]string{}}
	for _, n := range names {
		e.startServer(n, "")
	}
	return e
}

// startServer starts (or restarts, on addr) the fake server n.
func (e *ctlEnv) startServer(n, addr string) {
	e.t.Helper()
	s, err := rdptest.Start(rdptest.Config{Name: n, Addr: addr})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	e.farm[n] = s
}

// servers is the YAML list of the farm's servers.
func (e *ctlEnv) servers(names ...string) string {
	var out []string
	for _, n := range names {
		out = append(out, fmt.Sprintf("{name: %s, address: %q}", n, e.farm[n].Addr()))
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// ctl runs `rdpbroker ctl --socket sock args...` (bounded), as another
// user when cred is set. It returns stdout, stderr and the exit status.
func (e *ctlEnv) ctlAs(cred *syscall.Credential, sock string, args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, append([]string{"ctl", "--socket", sock}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("ctl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (e *ctlEnv) ctl(sock string, args ...string) (string, string, int) {
	e.t.Helper()
	return e.ctlAs(nil, sock, args...)
}

// ok runs ctl and fails the test unless it exits 0; it returns stdout.
func (e *ctlEnv) ok(sock string, args ...string) string {
	e.t.Helper()
	out, errs, code := e.ctl(sock, args...)
	if code != 0 {
		e.t.Fatalf("ctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// jsonOK runs ctl --json and decodes its output into v.
func (e *ctlEnv) jsonOK(sock string, v any, args ...string) {
	e.t.Helper()
	out := e.ok(sock, append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.t.Fatalf("ctl --json %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// route connects login through the broker and returns the server that got
// the connection ("" when none did).
func (e *ctlEnv) route(p *brokerProc, login string) string {
	e.t.Helper()
	c := e.dial(p, login)
	c.Close()
	return e.lastServer(login)
}

func (e *ctlEnv) dial(p *brokerProc, login string) net.Conn {
	e.t.Helper()
	before := e.counts(login)
	delete(e.last, login)
	c, _, err := rdptest.Dial(net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)), login, 3*time.Second)
	if err != nil {
		e.t.Fatalf("%s through %s: %v\n%s", login, p.proc.name, err, p.proc.describe())
	}
	for n, s := range e.farm {
		if countCookie(s, login) > before[n] {
			e.last[login] = n
		}
	}
	return c
}

func (e *ctlEnv) counts(login string) map[string]int {
	m := map[string]int{}
	for n, s := range e.farm {
		m[n] = countCookie(s, login)
	}
	return m
}

func (e *ctlEnv) lastServer(login string) string { return e.last[login] }

// server returns the named server of `ctl servers --json`.
func (e *ctlEnv) server(sock, name string) admin.ServerInfo {
	e.t.Helper()
	var list []admin.ServerInfo
	e.jsonOK(sock, &list, "servers")
	for _, s := range list {
		if s.Name == name {
			return s
		}
	}
	e.t.Fatalf("server %s not in ctl servers: %+v", name, list)
	return admin.ServerInfo{}
}

func auditLines(t *testing.T, stateDir string) []admin.Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, admin.AuditFile))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []admin.Record
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r admin.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func farmConfig(listen, state, sock, servers, extra string) string {
	return fmt.Sprintf(`
listen: %s
state_dir: %q
admin: {socket: %q, http: ""}
affinity: {flush_interval: 50ms}
default_pool: farm
pools:
  - name: farm
    health: {check: tcp, interval: 100ms, timeout: 500ms, rise: 1, fall: 1}
    servers: %s
%s`, listen, state, sock, servers, extra)
}
