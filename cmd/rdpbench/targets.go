package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target is something the load generator connects to.
type target interface {
	Name() string
	Addr() string
	// CPU returns the CPU seconds the target's process used so far (0 when
	// the target has no process of its own).
	CPU() float64
	Stop()
}

type direct struct{ addr string }

func (d direct) Name() string { return "direct" }
func (d direct) Addr() string { return d.addr }
func (d direct) CPU() float64 { return 0 }
func (d direct) Stop()        {}

// process is a proxy running as its own process group.
type process struct {
	name string
	addr string
	cmd  *exec.Cmd
}

func (p *process) Name() string { return p.name }
func (p *process) Addr() string { return p.addr }
func (p *process) CPU() float64 { return procCPU(p.cmd.Process.Pid) }
func (p *process) Stop() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// startBroker runs rdpbroker on a config equivalent to the seed's HAProxy
// setup: one pool, leastconn, RDP health checks every 3s.
func startBroker(bin, dir string, farm []string) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\ninspect_timeout: 2s\nstate_dir: %s\ndefault_pool: farm\n", addr, dir)
	b.WriteString("log: {level: warn}\npools:\n  - name: farm\n    balance: leastconn\n")
	b.WriteString("    health: {check: rdp, interval: 3s, timeout: 2s, rise: 2, fall: 3}\n    servers:\n")
	for i, a := range farm {
		fmt.Fprintf(&b, "      - {name: ts%02d, address: %q, weight: 10}\n", i+1, a)
	}
	cfg := filepath.Join(dir, "rdpbroker.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "rdpbroker.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{name: "rdpbroker", addr: addr, cmd: cmd}
	if err := waitPort(addr, 10*time.Second); err != nil {
		p.Stop()
		return nil, fmt.Errorf("rdpbroker did not listen (log %s): %w", logf.Name(), err)
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

// procCPU reads utime+stime of pid from /proc, in seconds.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}
