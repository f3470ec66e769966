package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// farm is the fake terminal servers the targets are put in front of, each
// picking its mode per connection with farmMode.
type farm struct {
	addrs []string
	srvs  []*rdptest.Server // in this process: the sticky workload reads what each saw
	child *process          // in a child process (see farmChild)
}

// close stops the servers, or the child process that runs them. It is safe
// to call more than once.
func (f *farm) close() {
	for _, s := range f.srvs {
		s.Close()
	}
	if f.child != nil {
		f.child.Stop()
	}
}

// startFarm starts n servers in this process.
func startFarm(n int) (*farm, error) {
	f := &farm{}
	for i := 0; i < n; i++ {
		s, err := rdptest.Start(rdptest.Config{Name: fmt.Sprintf("ts%02d", i+1), ModeFor: farmMode})
		if err != nil {
			f.close()
			return nil, fmt.Errorf("farm: %w", err)
		}
		f.srvs = append(f.srvs, s)
		f.addrs = append(f.addrs, s.Addr())
	}
	return f, nil
}

// farmChildWait bounds how long the child farm may take to report its
// addresses.
const farmChildWait = 10 * time.Second

// startFarmChild runs n servers in a child process, this binary re-executed
// as `rdpbench farm-child N` (see runFarmChild), its stderr to logPath. A
// process may hold 20,000 descriptors on these machines: with the farm in
// the benchmark process, 10,000 idle sessions would cost the benchmark
// 20,000 (client and server side); this way it holds the client sides only.
// The child runs on cpus (nil: wherever): with -cpus, the farm gets CPUs of
// its own.
func startFarmChild(n int, logPath string, cpus []int) (*farm, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("farm child: %w", err)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("farm child: %w", err)
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(exe, farmChildArg, strconv.Itoa(n))
	cmd.Stderr = logf
	// The child exits when its stdin reaches EOF: the write end stays open,
	// unwritten, in cmd until Stop's Wait closes it or this process ends,
	// however it ends. Pdeathsig (startCmd) fires when the thread that
	// forked the child exits, not the process; the pipe covers the rest.
	if _, err := cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("farm child: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("farm child: %w", err)
	}
	p, err := startCmd("farm", "", cpus, cmd)
	if err != nil {
		return nil, fmt.Errorf("farm child: %w", err)
	}
	type result struct {
		line string
		err  error
	}
	got := make(chan result, 1) // buffered: the reader never blocks on a farm that gave up
	go func() {
		l, err := bufio.NewReader(stdout).ReadString('\n')
		got <- result{l, err}
	}()
	fail := func(err error) (*farm, error) {
		p.Stop() // closes stdout too, which ends the reader if still reading
		return nil, fmt.Errorf("farm child (pid %d, log %s): %w", p.Pid(), logPath, err)
	}
	t := time.NewTimer(farmChildWait)
	defer t.Stop()
	select {
	case r := <-got:
		if r.err != nil {
			return fail(fmt.Errorf("read addresses: %w", r.err))
		}
		addrs := strings.Fields(r.line)
		if len(addrs) != n {
			return fail(fmt.Errorf("got %d addresses, want %d: %q", len(addrs), n, r.line))
		}
		return &farm{addrs: addrs, child: p}, nil
	case <-t.C:
		return fail(fmt.Errorf("no addresses after %v", farmChildWait))
	}
}

// farmChildArg, as the first argument, makes rdpbench the farm child.
const farmChildArg = "farm-child"

// runFarmChild is rdpbench run as `rdpbench farm-child N` by
// startFarmChild.
func runFarmChild(args []string) int {
	n := 0
	if len(args) == 1 {
		n, _ = strconv.Atoi(args[0])
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if err := farmChild(n, os.Stdin, os.Stdout, stop); err != nil {
		fmt.Fprintf(os.Stderr, "rdpbench: %v\n", err)
		return 1
	}
	return 0
}

// farmChild starts n servers, writes their addresses on one line to out and
// serves until in reaches EOF (the benchmark closed the pipe, or died) or
// stop receives (SIGTERM from Stop).
func farmChild(n int, in io.Reader, out io.Writer, stop <-chan os.Signal) error {
	if n <= 0 {
		return fmt.Errorf("farm child: %d servers", n)
	}
	f, err := startFarm(n)
	if err != nil {
		return err
	}
	defer f.close()
	if _, err := fmt.Fprintln(out, strings.Join(f.addrs, " ")); err != nil {
		return fmt.Errorf("farm child: write addresses: %w", err)
	}
	eof := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, in)
		eof <- err
	}()
	select {
	case err := <-eof:
		if err != nil && !errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("farm child: stdin: %w", err)
		}
	case <-stop:
	}
	return nil
}
