package affinity

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// child is a node process running TestMain's child code.
type child struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *rdptest.LogBuffer
}

// startChild starts the test binary in mode with env (KEY=value); it is
// killed on test cleanup whatever happens.
func startChild(t *testing.T, name, mode string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+mode), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c := &child{t: t, name: name, cmd: cmd, lines: make(chan string, 100000), stderr: &rdptest.LogBuffer{}}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		close(done)
	}()
	t.Cleanup(func() {
		c.kill(syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("%s stderr (tail):\n%s", name, tail(c.stderr.String(), 4000))
		}
	})
	return c
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// kill signals the child (by PID) and, for SIGKILL, reaps it.
func (c *child) kill(sig syscall.Signal) {
	if c.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(c.cmd.Process.Pid, sig)
	if sig == syscall.SIGKILL {
		c.cmd.Wait()
	}
}

// expect reads lines until one starts with prefix; it fails the test after
// timeout or if the child exits.
func (c *child) expect(prefix string, timeout time.Duration) string {
	c.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("%s exited while waiting for %q; stderr:\n%s", c.name, prefix, tail(c.stderr.String(), 4000))
			}
			if strings.HasPrefix(l, "error") {
				c.t.Fatalf("%s: %s", c.name, l)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline.C:
			c.t.Fatalf("%s: no %q within %s; stderr:\n%s", c.name, prefix, timeout, tail(c.stderr.String(), 4000))
		}
	}
}

// do sends a command and returns the reply line starting with want.
func (c *child) do(cmd, want string) string {
	c.t.Helper()
	if _, err := fmt.Fprintln(c.stdin, cmd); err != nil {
		c.t.Fatalf("%s: write %q: %v", c.name, cmd, err)
	}
	return c.expect(want, 20*time.Second)
}

// dump returns the child's full table, one line per entry.
func (c *child) dump() []string {
	c.t.Helper()
	if _, err := fmt.Fprintln(c.stdin, "dump"); err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for {
		l := c.expect("", 20*time.Second)
		if l == "end" {
			return out
		}
		if strings.HasPrefix(l, "e ") {
			out = append(out, l[2:])
		}
	}
}

func mkdirTemp() (string, error) { return os.MkdirTemp("", "affinity-bench-") }
