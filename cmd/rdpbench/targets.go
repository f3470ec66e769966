package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// target is something the load generator connects to.
type target interface {
	Name() string
	Addr() string
	// CPU returns the CPU time the target's process used so far (zero when
	// the target has no process of its own).
	CPU() cpuTime
	// Pid is the target's process (0 when it has none).
	Pid() int
	Stop()
}

type direct struct{ addr string }

func (d direct) Name() string { return "direct" }
func (d direct) Addr() string { return d.addr }
func (d direct) CPU() cpuTime { return cpuTime{} }
func (d direct) Pid() int     { return 0 }
func (d direct) Stop()        {}

// process is a proxy running as its own process group.
type process struct {
	name  string
	addr  string
	pprof string // rdpbroker: its profiler's address, if started with one
	cmd   *exec.Cmd
	once  sync.Once
}

func (p *process) Name() string { return p.name }
func (p *process) Addr() string { return p.addr }
func (p *process) CPU() cpuTime { return procCPU(p.cmd.Process.Pid) }
func (p *process) Pid() int     { return p.cmd.Process.Pid }

// Stop ends the process group (SIGTERM, SIGKILL after 5s) and waits for
// the process. It is safe to call more than once.
func (p *process) Stop() {
	p.once.Do(func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		live.Lock()
		delete(live.procs, p)
		live.Unlock()
	})
}

// live holds every process started and not yet stopped, so that a signal
// to the benchmark stops them too (deferred Stops do not run then).
var live = struct {
	sync.Mutex // protects procs
	procs      map[*process]struct{}
}{procs: map[*process]struct{}{}}

// startProcess runs argv in its own process group on cpus (nil: wherever),
// killed with the benchmark if the benchmark dies, output to logPath.
func startProcess(name, addr, logPath string, cpus []int, argv ...string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	return startCmd(name, addr, cpus, cmd)
}

// startCmd starts cmd, its I/O already set up, on cpus (nil: wherever), in
// its own process group (so that Stop ends whatever it forks too), killed
// with the benchmark if the benchmark dies, and registers it in live.
func startCmd(name, addr string, cpus []int, cmd *exec.Cmd) (*process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	live.Lock()
	defer live.Unlock()
	if err := startOn(cpus, cmd.Start); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &process{name: name, addr: addr, cmd: cmd}
	live.procs[p] = struct{}{}
	return p, nil
}

// stopAll stops every live process (on a signal).
func stopAll() {
	live.Lock()
	ps := make([]*process, 0, len(live.procs))
	for p := range live.procs {
		ps = append(ps, p)
	}
	live.Unlock()
	for _, p := range ps {
		p.Stop()
	}
}

// startBroker runs rdpbroker on a config equivalent to the seed's HAProxy
// setup: one pool, leastconn, RDP health checks every 3s; warnings only;
// on cpus (nil: wherever). Admission is left at its defaults: no per-source
// rate or connection cap, 256 pending connections per source, which the
// clients' 16 source addresses only spread further.
func startBroker(bin, dir string, farm []string, withPprof bool, cpus []int) (*process, error) {
	return startBrokerLevel(bin, dir, farm, withPprof, "warn", cpus)
}

// startBrokerLevel is startBroker logging at level.
func startBrokerLevel(bin, dir string, farm []string, withPprof bool, level string, cpus []int) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The admin HTTP endpoint serves the profiler when asked for (and is
	// off otherwise: no port to collide on); no admin socket.
	var pprofAddr string
	if withPprof {
		if pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\ninspect_timeout: 2s\nstate_dir: %s\ndefault_pool: farm\n", addr, dir)
	fmt.Fprintf(&b, "admin: {socket: \"\", http: %q, pprof: %v}\n", pprofAddr, withPprof)
	fmt.Fprintf(&b, "log: {level: %s}\npools:\n  - name: farm\n    balance: leastconn\n", level)
	b.WriteString("    health: {check: rdp, interval: 3s, timeout: 2s, rise: 2, fall: 3}\n    servers:\n")
	for i, a := range farm {
		fmt.Fprintf(&b, "      - {name: ts%02d, address: %q, weight: 10}\n", i+1, a)
	}
	cfg := filepath.Join(dir, "rdpbroker.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "rdpbroker.log")
	argv := []string{bin, "serve", "--config", cfg}
	p, err := startProcess("rdpbroker", addr, logPath, cpus, argv...)
	if err != nil {
		return nil, err
	}
	p.pprof = pprofAddr
	if err := waitPort(addr, 10*time.Second); err != nil {
		p.Stop()
		return nil, fmt.Errorf("rdpbroker did not listen (log %s): %w", logPath, err)
	}
	return p, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitPort(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
