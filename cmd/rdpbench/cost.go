package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// connCost is what one short connection (dial, Connection Request,
// Connection Confirm, close) costs a proxy process, over a fixed number of
// connections: CPU split user/sys, context switches and the TIME_WAIT
// sockets left behind from a plain run, system calls from a second run
// under strace (which slows every call down, so from that run only the
// counts are kept).
type connCost struct {
	conns     int
	cpu       cpuTime
	switches  int64            // voluntary + involuntary, all threads
	tw        twCount          // TIME_WAIT sockets the plain run left
	calls     map[string]int64 // by system call
	errs      map[string]int64 // failed calls (EAGAIN, EINPROGRESS...) by system call
	straceErr string           // why there are no counts (no strace, ptrace not permitted)
}

// costKey names a column of the cost table: a proxy, a client close style.
type costKey struct {
	proxy string
	close closeStyle
}

// twCount is the TIME_WAIT sockets made during a pass, by remote port.
type twCount struct {
	servers int    // toward a farm server's port: the proxy's server side
	clients int    // toward the proxy's listen port: the client side
	skipped int64  // closing sockets of the namespace that skipped TIME_WAIT, the table full (-1: unknown)
	err     string // why there are no counts
}

// costConns is how many connections each pass of the cost workload makes.
const costConns = 5000

// costRun is one cell of the cost workload: proxy t in front of farm,
// clients from src closing the cl way.
type costRun struct {
	t      target
	farm   []string
	cl     closeStyle
	src    sources
	logins [][]byte
	dir    string // strace's output
}

// measureCost runs the two passes of connCost. Without strace (or ptrace)
// the counts are missing and say why; the rest stands.
func measureCost(r costRun, progress func(string, ...any)) connCost {
	waitTWRoom(2*costConns, progress)
	pid := r.t.Pid()
	tw0, twErr := timeWaits()
	over0 := twOverflows()
	cpu0, sw0 := r.t.CPU(), procSwitches(pid)
	n := closedLoopConns(r, costConns)
	waitQuiet(r.t, 2*time.Second)
	c := connCost{conns: n, cpu: r.t.CPU().sub(cpu0), switches: procSwitches(pid) - sw0}
	c.tw = countTW(tw0, twErr, r.farm, r.t.Addr())
	if over1 := twOverflows(); over0 >= 0 && over1 >= 0 {
		c.tw.skipped = over1 - over0
	} else {
		c.tw.skipped = -1
	}
	sc, err := countSyscalls(r)
	c.calls, c.errs = sc.calls, sc.errs
	if err != nil {
		c.straceErr = err.Error()
	}
	return c
}

// countTW counts the TIME_WAIT sockets made since before (read when the
// pass started, or failed with errBefore) toward the farm and toward the
// proxy.
func countTW(before []twSocket, errBefore error, farm []string, proxy string) twCount {
	after, err := timeWaits()
	if err = errors.Join(errBefore, err); err != nil {
		return twCount{err: err.Error()}
	}
	return twCount{
		servers: madeBetween(before, after, portsOf(farm...)),
		clients: madeBetween(before, after, portsOf(proxy)),
	}
}

// closedLoopConns makes total handshakes from 16 clients and returns how
// many succeeded.
func closedLoopConns(r costRun, total int) int {
	var (
		next, ok atomic.Int64
		wg       sync.WaitGroup
	)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(dl *net.Dialer) {
			defer wg.Done()
			buf := make([]byte, 64)
			for i := next.Add(1); i <= int64(total); i = next.Add(1) {
				if handshake(dl, r.t.Addr(), r.logins[int(i)%len(r.logins)], buf, r.cl) == nil {
					ok.Add(1)
				}
			}
		}(r.src.dialer(w, 5*time.Second))
	}
	wg.Wait()
	return int(ok.Load())
}

// syscallCount is strace's count of system calls, by call.
type syscallCount struct {
	calls map[string]int64
	errs  map[string]int64
}

// countSyscalls attaches `strace -c -f` to the target's process, makes
// costConns handshakes, detaches and returns strace's counts. They say how
// many kernel crossings a connection costs each proxy, which the CPU
// columns cannot.
func countSyscalls(r costRun) (syscallCount, error) {
	t := r.t
	out := filepath.Join(r.dir, t.Name()+".strace")
	cmd := exec.Command("strace", "-c", "-f", "-q", "-o", out, "-p", strconv.Itoa(t.Pid()))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return syscallCount{}, fmt.Errorf("strace: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() error {
		syscall.Kill(cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-done: // strace re-raises the SIGINT after writing its table: no exit status to check
			return nil
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			return fmt.Errorf("strace did not stop")
		}
	}
	// Ready when the kernel names a tracer for every thread of the process.
	if err := waitTraced(t.Pid(), 10*time.Second); err != nil {
		stop()
		return syscallCount{}, fmt.Errorf("strace attach: %w (%s)", err, strings.TrimSpace(stderr.String()))
	}
	closedLoopConns(r, costConns)
	// The last closes reach the proxy after the clients' closes: give them
	// until the process has been quiet a moment (bounded).
	waitQuiet(t, 2*time.Second)
	if err := stop(); err != nil {
		return syscallCount{}, fmt.Errorf("strace: %w (%s)", err, strings.TrimSpace(stderr.String()))
	}
	return parseStraceSummary(out)
}

// waitTraced waits until every thread of pid has a tracer.
func waitTraced(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return err
		}
		traced := 0
		for _, task := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
			if err == nil && bytes.Contains(b, []byte("TracerPid:\t")) && !bytes.Contains(b, []byte("TracerPid:\t0\n")) {
				traced++
			}
		}
		if traced == len(tasks) && traced > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d threads traced after %v", traced, len(tasks), timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitQuiet waits until the target's CPU time stops moving for 100 ms, at
// most max.
func waitQuiet(t target, max time.Duration) {
	deadline := time.Now().Add(max)
	last := t.CPU()
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		now := t.CPU()
		if now == last {
			return
		}
		last = now
	}
}

// parseStraceSummary reads the table `strace -c` writes:
//
//	% time     seconds  usecs/call     calls    errors syscall
//	------ ----------- ----------- --------- --------- ----------------
//	 38.40    0.938956          45     20495           epoll_wait
func parseStraceSummary(path string) (syscallCount, error) {
	f, err := os.Open(path)
	if err != nil {
		return syscallCount{}, err
	}
	defer f.Close()
	sc := syscallCount{calls: map[string]int64{}, errs: map[string]int64{}}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) < 5 || fs[len(fs)-1] == "total" || fs[len(fs)-1] == "syscall" {
			continue
		}
		calls, err := strconv.ParseInt(fs[3], 10, 64)
		if err != nil {
			continue // the ------ ruler
		}
		name := fs[len(fs)-1]
		sc.calls[name] = calls
		if len(fs) == 6 {
			sc.errs[name], _ = strconv.ParseInt(fs[4], 10, 64)
		}
	}
	if len(sc.calls) == 0 {
		return sc, fmt.Errorf("strace summary %s: no system calls counted", path)
	}
	return sc, s.Err()
}
