package packaging

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cmd is one command the test runs: its own process group, killed whole
// on timeout and when the test ends.
type cmd struct {
	name string
	args []string
	dir  string
	env  []string // added to the test's environment
	in   string
}

// result is a finished command's output and error.
type result struct {
	out string // stdout and stderr, interleaved
	err error
}

func (r result) String() string { return r.out }

// exec runs c with timeout; it does not fail the test.
func (c cmd) exec(t *testing.T, timeout time.Duration) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	x := exec.CommandContext(ctx, c.name, c.args...)
	x.Dir = c.dir
	x.Env = append(os.Environ(), c.env...)
	x.Stdin = strings.NewReader(c.in)
	var buf bytes.Buffer
	x.Stdout, x.Stderr = &buf, &buf
	x.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	x.Cancel = func() error { return syscall.Kill(-x.Process.Pid, syscall.SIGKILL) }
	x.WaitDelay = 5 * time.Second
	if err := x.Start(); err != nil {
		return result{err: fmt.Errorf("start %s: %w", c.name, err)}
	}
	t.Cleanup(func() { _ = syscall.Kill(-x.Process.Pid, syscall.SIGKILL) })
	err := x.Wait()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s: timed out after %v: %w", c.name, timeout, err)
	}
	return result{out: buf.String(), err: err}
}

// must runs c and fails the test unless it exits 0; it returns the output.
func (c cmd) must(t *testing.T, timeout time.Duration) string {
	t.Helper()
	r := c.exec(t, timeout)
	if r.err != nil {
		t.Fatalf("%s %s: %v\n%s", c.name, strings.Join(c.args, " "), r.err, r.out)
	}
	return r.out
}

func run(name string, args ...string) cmd { return cmd{name: name, args: args} }
