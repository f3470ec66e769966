package main

// Harness for the real-RDP end-to-end test (xrdp_e2e_test.go): real xrdp
// servers on loopback, the real rdpbroker binary, and xfreerdp under Xvfb.
// Every process runs in its own process group, which is killed as a whole
// in t.Cleanup: xrdp forks one child per connection, and those outlive
// their parent.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// realRDPEnv enables the tests that need xrdp, xfreerdp and Xvfb.
const realRDPEnv = "RDPBROKER_E2E_REAL"

// xrdpPidFile is where xrdp 0.9 (Debian 12) looks for a running daemon:
// while it exists, every xrdp refuses to start, --nodaemon -c FILE included.
const xrdpPidFile = "/var/run/xrdp/xrdp.pid"

// Bounds of the harness's waits. All waits poll; none sleeps blindly.
const (
	readyTimeout  = 10 * time.Second // a process listens
	stopTimeout   = 3 * time.Second  // a process group goes after SIGTERM
	clientTimeout = 30 * time.Second // one xvfb-run xfreerdp
	logTimeout    = 10 * time.Second // a line shows up in a log
)

// rdpTools are the programs the real-RDP test runs.
type rdpTools struct {
	xrdp, xfreerdp, xvfbRun string
}

// requireRealRDP skips unless RDPBROKER_E2E_REAL=1, and then fails (never
// skips) when a program is missing.
func requireRealRDP(t *testing.T) rdpTools {
	t.Helper()
	if os.Getenv(realRDPEnv) != "1" {
		t.Skip("set " + realRDPEnv + "=1 (make test does)")
	}
	var tools rdpTools
	var missing []string
	look := func(name string, dst *string) {
		p, err := exec.LookPath(name)
		if err != nil {
			// xrdp lives in /usr/sbin, which a non-root PATH may lack.
			if _, serr := os.Stat("/usr/sbin/" + name); serr == nil {
				p, err = "/usr/sbin/"+name, nil
			}
		}
		if err != nil {
			missing = append(missing, name)
		}
		*dst = p
	}
	look("xrdp", &tools.xrdp)
	look("xfreerdp", &tools.xfreerdp)
	look("xvfb-run", &tools.xvfbRun)
	var xauth string
	look("xauth", &xauth) // xvfb-run needs it
	if len(missing) > 0 {
		t.Fatalf("%s=1 but %s not found (PATH, /usr/sbin): run scripts/install-test-deps.sh (make test-deps)",
			realRDPEnv, strings.Join(missing, ", "))
	}
	if _, err := os.Stat(xrdpPidFile); err == nil {
		t.Fatalf("%s exists: a system xrdp daemon runs (or died and left it), and xrdp refuses to start "+
			"while it exists; scripts/install-test-deps.sh stops the daemon and removes a stale file", xrdpPidFile)
	}
	return tools
}

// readFile returns a file's content, "" when it cannot be read (yet).
func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// groupProc is a started process leading its own process group, with
// stdout and stderr in one file.
type groupProc struct {
	name   string
	cmd    *exec.Cmd
	output string // path of the stdout+stderr file

	done     chan struct{} // closed when the leader has been waited for
	waitErr  error
	stopOnce sync.Once
	killed   bool // stop needed SIGKILL: the leader ignored SIGTERM for stopTimeout
}

// startGroup starts argv in a new process group and registers its stop in
// t.Cleanup (so on every exit path, Fatal and panics included).
func startGroup(t *testing.T, name, output string, env []string, argv ...string) *groupProc {
	t.Helper()
	f, err := os.Create(output)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer f.Close() // the child has its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start %s: %v", name, argv[0], err)
	}
	started.add(cmd.Process.Pid)
	p := &groupProc{name: name, cmd: cmd, output: output, done: make(chan struct{})}
	go func() { p.waitErr = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

// exited reports whether the leader has exited.
func (p *groupProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the whole group, waits (bounded) for the leader,
// then SIGKILLs the group: stragglers, e.g. xrdp's per-connection children
// still winding down, go too.
func (p *groupProc) stop() {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			p.killed = true
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
		}
	})
}

// describe is the process's state and output tail, for failure messages.
func (p *groupProc) describe() string {
	state := "running"
	if p.exited() {
		state = fmt.Sprintf("exited (%v)", p.waitErr)
	}
	return fmt.Sprintf("%s: %s; output:\n%s", p.name, state, tail(readFile(p.output), 30))
}

// started records the process groups the harness started, for
// checkLeftovers.
var started groupSet

type groupSet struct {
	mu    sync.Mutex
	pgids map[int]bool
}

func (g *groupSet) add(pgid int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pgids == nil {
		g.pgids = map[int]bool{}
	}
	g.pgids[pgid] = true
}

// alive lists the live (not zombie) processes of the recorded groups.
func (g *groupSet) alive() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var live []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat := readFile("/proc/" + e.Name() + "/stat")
		i := strings.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(stat[i+1:]) // state ppid pgrp ...
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if pgrp, _ := strconv.Atoi(f[2]); g.pgids[pgrp] {
			cmdline := strings.ReplaceAll(readFile("/proc/"+e.Name()+"/cmdline"), "\x00", " ")
			live = append(live, e.Name()+" "+cmdline)
		}
	}
	return live
}

// checkLeftovers fails the test if, once every other cleanup has run, a
// process the harness started (or one of its children) is still alive.
// Register it first: cleanups run last-in first-out.
func checkLeftovers(t *testing.T) {
	t.Cleanup(func() {
		var live []string
		ok, _ := rdptest.Poll(stopTimeout, func() (bool, string) {
			live = started.alive()
			return len(live) == 0, ""
		})
		if !ok {
			t.Errorf("processes left behind:\n%s", strings.Join(live, "\n"))
		}
	})
}

// --- xrdp ---

// xrdpServer is one xrdp on 127.0.0.1 with its own directory, config and
// log file.
type xrdpServer struct {
	name    string
	port    int
	dir     string
	logFile string
	proc    *groupProc
}

func (s *xrdpServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *xrdpServer) log() string { return readFile(s.logFile) }

// The xrdp 0.9.21 log lines the test reads:
//
//	Socket 12: AF_INET connection received from 127.0.0.1 port 55444
//	Connected client computer name: vm
//	Security protocol: configured [SSL|RDP], requested [SSL|HYBRID|HYBRID_EX|RDP], selected [SSL]
var (
	reConnReceived = regexp.MustCompile(`connection received from \S+ port (\d+)`)
	reMCSClient    = regexp.MustCompile(`Connected client computer name`)
	// Only the broker's "rdp" health probe asks for HYBRID_EX; xfreerdp
	// 2.11 asks for SSL|HYBRID|RDP.
	reProbe = regexp.MustCompile(`Security protocol: .*requested \[[^\]]*HYBRID_EX`)
)

// connections counts the TCP connections the server accepted.
func (s *xrdpServer) connections() int { return len(reConnReceived.FindAllString(s.log(), -1)) }

// clients counts the connections that got as far as the MCS Connect
// Initial (real RDP clients; a health probe stops after the X.224 CC).
func (s *xrdpServer) clients() int { return len(reMCSClient.FindAllString(s.log(), -1)) }

// probes counts the X.224 requests of the broker's rdp health check.
func (s *xrdpServer) probes() int { return len(reProbe.FindAllString(s.log(), -1)) }

// writeXRDPConfig derives an instance's xrdp.ini from the system one: listen
// on 127.0.0.1:port only, log to its own file without syslog, and use the
// test's certificate (the system key is readable by root only).
func writeXRDPConfig(path string, port int, logFile, certFile, keyFile string) error {
	sys, err := os.ReadFile("/etc/xrdp/xrdp.ini")
	if err != nil {
		return err
	}
	var out bytes.Buffer
	section := ""
	set := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(sys))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") {
			section = trimmed
		}
		key, _, isKV := strings.Cut(trimmed, "=")
		if isKV && !strings.HasPrefix(trimmed, ";") && !strings.HasPrefix(trimmed, "#") {
			replace := map[string]map[string]string{
				"[Globals]": {
					"port":        "tcp://127.0.0.1:" + strconv.Itoa(port),
					"certificate": certFile,
					"key_file":    keyFile,
				},
				"[Logging]": {
					"LogFile":      logFile,
					"EnableSyslog": "false",
				},
			}[section]
			if v, ok := replace[key]; ok {
				line = key + "=" + v
				set[section+key] = true
			}
		}
		out.WriteString(line + "\n")
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for _, k := range []string{"[Globals]port", "[Globals]certificate", "[Globals]key_file", "[Logging]LogFile", "[Logging]EnableSyslog"} {
		if !set[k] {
			return fmt.Errorf("/etc/xrdp/xrdp.ini has no %s line to replace (format changed?)", k)
		}
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// startXRDP starts one xrdp in the foreground on a free loopback port and
// waits until it is ready. Readiness: a TCP connect succeeds AND xrdp's log
// shows that very connection (matched by its source port), so the port is
// really this xrdp's, and the probe's log line is in before anyone counts.
// A port taken meanwhile is retried with another one.
func startXRDP(t *testing.T, tools rdpTools, name, cert, key string) *xrdpServer {
	t.Helper()
	var why string
	for attempt := 1; attempt <= 3; attempt++ {
		s := &xrdpServer{name: name, port: rdptest.FreePort(t), dir: filepath.Join(t.TempDir(), name)}
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		s.logFile = filepath.Join(s.dir, "xrdp.log")
		ini := filepath.Join(s.dir, "xrdp.ini")
		if err := writeXRDPConfig(ini, s.port, s.logFile, cert, key); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.proc = startGroup(t, "xrdp "+name, filepath.Join(s.dir, "stdout.txt"), os.Environ(),
			tools.xrdp, "--nodaemon", "--config", ini)
		ready := false
		// cond returns true to stop waiting: ready, or no point waiting.
		_, why = rdptest.Poll(readyTimeout, func() (bool, string) {
			if s.proc.exited() {
				return true, "exited early"
			}
			c, err := net.DialTimeout("tcp", s.addr(), time.Second)
			if err != nil {
				return false, err.Error()
			}
			lport := strconv.Itoa(c.LocalAddr().(*net.TCPAddr).Port)
			c.Close()
			mine, _ := rdptest.Poll(2*time.Second, func() (bool, string) {
				for _, m := range reConnReceived.FindAllStringSubmatch(s.log(), -1) {
					if m[1] == lport {
						return true, ""
					}
				}
				return s.proc.exited(), ""
			})
			switch {
			case s.proc.exited():
				return true, "exited early"
			case !mine:
				return true, "the port accepts but xrdp's log does not show the connection (taken by someone else?)"
			}
			ready = true
			return true, ""
		})
		if ready {
			return s
		}
		why = fmt.Sprintf("attempt %d on port %d: %s\n%s\nlog:\n%s", attempt, s.port, why, s.proc.describe(), tail(s.log(), 20))
		s.proc.stop()
		if strings.Contains(s.log()+readFile(s.proc.output), "already running") {
			break // the pid file: another port will not help
		}
	}
	t.Fatalf("xrdp %s did not start:\n%s", name, why)
	return nil
}

// writeTestCert writes a self-signed RSA certificate and key for the xrdp
// instances.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rdpbroker-e2e-xrdp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	kb := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, kb, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// --- the broker ---

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

// buildBroker starts `go build -o DIR/rdpbroker .` in the background (it
// overlaps with starting xrdp) and returns a function that waits for it:
// the binary's path, or the build's failure. Under `go test -race` (make
// test) the broker is built with -race too: the packages are in the build
// cache already, and the real broker then reports data races under real
// RDP traffic.
func buildBroker(dir string) func() (string, error) {
	bin := filepath.Join(dir, "rdpbroker")
	var out []byte
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		goBin, lerr := exec.LookPath("go")
		if lerr != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		args := []string{"build", "-o", bin}
		if raceEnabled() {
			args = append(args, "-race")
		}
		cmd := exec.Command(goBin, append(args, ".")...)
		out, err = cmd.CombinedOutput()
	}()
	return func() (string, error) {
		<-done
		if err != nil {
			return "", fmt.Errorf("go build ./cmd/rdpbroker: %v\n%s", err, out)
		}
		return bin, nil
	}
}

// brokerProc is one running `rdpbroker serve`.
type brokerProc struct {
	port int
	proc *groupProc
}

func (b *brokerProc) log() string { return readFile(b.proc.output) }

// brokerEnv is the environment without RDPBROKER_* variables: they would
// override the config file (RDPBROKER_LISTEN, ...). A -race build would
// sleep 1 s at exit (atexit_sleep_ms): not here.
func brokerEnv() []string {
	env := []string{"GORACE=atexit_sleep_ms=0 " + os.Getenv("GORACE")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RDPBROKER_") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	return env
}

// startBroker writes the config config(port) and runs `rdpbroker serve` on
// it. Ready: the broker logged that it listens on that address and the port
// accepts a TCP connection. A port taken meanwhile is retried.
func startBroker(t *testing.T, bin, name string, config func(listen string) string) *brokerProc {
	t.Helper()
	return startBrokerWrapped(t, bin, name, nil, config)
}

// startBrokerWrapped is startBroker with argv prefixed by wrap (a shell
// that sets limits first, say); the broker must still be the group leader's
// exec'd image or a child of it.
func startBrokerWrapped(t *testing.T, bin, name string, wrap []string, config func(listen string) string) *brokerProc {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var why string
	for attempt := 1; attempt <= 3; attempt++ {
		b := &brokerProc{port: rdptest.FreePort(t)}
		listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
		cfg := filepath.Join(dir, fmt.Sprintf("rdpbroker-%d.yaml", attempt))
		if err := os.WriteFile(cfg, []byte(config(listen)), 0o644); err != nil {
			t.Fatal(err)
		}
		b.proc = startGroup(t, name, filepath.Join(dir, fmt.Sprintf("stderr-%d.txt", attempt)), brokerEnv(),
			append(slices.Clone(wrap), bin, "serve", "--config", cfg)...)
		ready := false
		// cond returns true to stop waiting: ready, or no point waiting.
		_, why = rdptest.Poll(readyTimeout, func() (bool, string) {
			if b.proc.exited() {
				return true, "exited early"
			}
			if !hasLogLine(b.log(), "listening", map[string]string{"addr": listen}) {
				return false, "no msg=listening addr=" + listen + " line yet"
			}
			c, err := net.DialTimeout("tcp", listen, time.Second)
			if err != nil {
				return false, err.Error()
			}
			c.Close()
			ready = true
			return true, ""
		})
		if ready {
			return b
		}
		why = fmt.Sprintf("attempt %d on %s: %s\n%s\nconfig:\n%s", attempt, listen, why, b.proc.describe(), config(listen))
		b.proc.stop()
		if !strings.Contains(b.log(), "address already in use") {
			break
		}
	}
	t.Fatalf("%s did not start:\n%s", name, why)
	return nil
}

// --- slog text lines ---

// logfmt parses one slog text line (key=value, values quoted when needed).
func logfmt(line string) map[string]string {
	kv := map[string]string{}
	for s := strings.TrimSpace(line); s != ""; s = strings.TrimLeft(s, " ") {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			// Find the closing quote, skipping escaped characters.
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				break
			}
			v, err := strconv.Unquote(s[:end+1])
			if err != nil {
				v = s[1:end]
			}
			val, s = v, s[end+1:]
		} else {
			sp := strings.IndexByte(s, ' ')
			if sp < 0 {
				sp = len(s)
			}
			val, s = s[:sp], s[sp:]
		}
		kv[key] = val
	}
	return kv
}

// logLines returns the parsed lines of log whose msg is msg.
func logLines(log, msg string) []map[string]string {
	var out []map[string]string
	for _, line := range strings.Split(log, "\n") {
		if kv := logfmt(line); kv["msg"] == msg {
			out = append(out, kv)
		}
	}
	return out
}

// hasLogLine reports whether log has a msg line with all the given values.
func hasLogLine(log, msg string, want map[string]string) bool {
	for _, kv := range logLines(log, msg) {
		if matches(kv, want) {
			return true
		}
	}
	return false
}

func matches(kv, want map[string]string) bool {
	for k, v := range want {
		if kv[k] != v {
			return false
		}
	}
	return true
}

// --- the client ---

// rdpClient runs xfreerdp under xvfb-run, one login at a time.
type rdpClient struct {
	tools rdpTools
	dir   string
	env   []string
	runs  int
}

func newRDPClient(t *testing.T, tools rdpTools) *rdpClient {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	// FreeRDP writes its config and known-hosts under $HOME: keep it in
	// the test's directory.
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "XDG_CONFIG_HOME", "DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY":
		default:
			env = append(env, kv)
		}
	}
	return &rdpClient{tools: tools, dir: dir, env: env}
}

// errXvfb is xvfb-run's message when the X server did not start; with -a,
// two xvfb-run starting at once may pick the same display.
const errXvfb = "Xvfb failed to start"

// login runs `xvfb-run -a xfreerdp /v:ADDR ARGS /p:x /cert:ignore
// +auth-only` (no shell: each argument is one argv element) in its own
// process group, bounded by clientTimeout, and returns its output and
// error (nil = exit 0). +auth-only: the client goes through TLS and the MCS
// and capability exchange, then leaves before a session would start.
func (c *rdpClient) login(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	argv := append([]string{c.tools.xvfbRun, "-a", c.tools.xfreerdp, "/v:" + addr}, args...)
	argv = append(argv, "/p:x", "/cert:ignore", "+auth-only")
	var out string
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		c.runs++
		out, err = c.run(t, argv)
		if err == nil || !strings.Contains(out, errXvfb) {
			break
		}
	}
	return out, err
}

func (c *rdpClient) run(t *testing.T, argv []string) (string, error) {
	output := filepath.Join(c.dir, fmt.Sprintf("xfreerdp-%d.txt", c.runs))
	f, err := os.Create(output)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = c.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = stopTimeout
	if err = cmd.Start(); err == nil {
		started.add(cmd.Process.Pid)
		err = cmd.Wait()
	}
	f.Close()
	if cmd.Process != nil {
		// xvfb-run stops its Xvfb itself; this catches anything left over.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%v (killed after %v)", err, clientTimeout)
	}
	return fmt.Sprintf("$ %s\n%s", strings.Join(quoteArgs(argv), " "), readFile(output)), err
}

func quoteArgs(argv []string) []string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = a
		if strings.ContainsAny(a, " \\\"'") {
			q[i] = strconv.Quote(a)
		}
	}
	return q
}
