// Package sdtest stands in for systemd in tests: a NOTIFY_SOCKET that
// records every notification with the pid that sent it, and a way to
// start a command socket-activated. These machines run no systemd; this is
// the socket a real one would own, with the same wire format (one
// datagram per sd_notify call, newline-separated assignments, sender
// credentials via SO_PASSCRED).
//
// Typical use:
//
//	sock := sdtest.Listen(t)
//	cmd := exec.Command(bin, "serve", "--config", cfg)
//	cmd.Env = append(os.Environ(), sock.Env(), "WATCHDOG_USEC=2000000")
//	sdtest.Activate(cmd, []string{"client"}, lnFile) // optional: socket activation
//	cmd.Start()
//	m, err := sock.WaitState(10*time.Second, "READY=1")
package sdtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Message is one datagram received on the socket.
type Message struct {
	// State is the datagram as sent, e.g. "READY=1" or
	// "MAINPID=42\nREADY=1".
	State string
	// PID is the sender's pid (from its credentials; 0 if unknown).
	PID int
	// At is when the socket read it.
	At time.Time
}

// Has reports whether the message contains the assignment a (a whole
// line, e.g. "READY=1").
func (m Message) Has(a string) bool { return slices.Contains(strings.Split(m.State, "\n"), a) }

// Value returns the value of key in the message ("" and false if absent).
func (m Message) Value(key string) (string, bool) {
	for _, line := range strings.Split(m.State, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// Socket is a NOTIFY_SOCKET owned by the test.
type Socket struct {
	path string
	conn *net.UnixConn

	mu      sync.Mutex // protects following fields
	msgs    []Message
	changed chan struct{} // closed and replaced on each new message
}

// Listen creates the socket in a new short temporary directory (a unix
// socket path is limited to 107 bytes, which t.TempDir can exceed) and
// closes it when the test ends.
func Listen(tb testing.TB) *Socket {
	tb.Helper()
	dir, err := os.MkdirTemp("", "sdtest")
	if err != nil {
		tb.Fatalf("sdtest: temp dir: %v", err)
	}
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		tb.Fatalf("sdtest: listen %s: %v", path, err)
	}
	if err := passCred(conn); err != nil {
		conn.Close()
		os.RemoveAll(dir)
		tb.Fatalf("sdtest: SO_PASSCRED on %s: %v", path, err)
	}
	s := &Socket{path: path, conn: conn, changed: make(chan struct{})}
	done := make(chan struct{})
	go func() { defer close(done); s.read() }()
	tb.Cleanup(func() {
		conn.Close()
		<-done
		os.RemoveAll(dir)
	})
	return s
}

func passCred(conn *net.UnixConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1)
	}); err != nil {
		return err
	}
	return serr
}

func (s *Socket) read() {
	buf := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(syscall.SizeofUcred))
	for {
		n, oobn, _, _, err := s.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		m := Message{State: string(buf[:n]), PID: senderPID(oob[:oobn]), At: time.Now()}
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
}

func senderPID(oob []byte) int {
	cmsgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, c := range cmsgs {
		if cred, err := syscall.ParseUnixCredentials(&c); err == nil {
			return int(cred.Pid)
		}
	}
	return 0
}

// Path is the socket's path.
func (s *Socket) Path() string { return s.path }

// Env is "NOTIFY_SOCKET=<path>", for exec.Cmd.Env.
func (s *Socket) Env() string { return "NOTIFY_SOCKET=" + s.path }

// Messages returns a copy of every message received so far, in order.
func (s *Socket) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// States returns the State of every message received so far.
func (s *Socket) States() []string {
	var out []string
	for _, m := range s.Messages() {
		out = append(out, m.State)
	}
	return out
}

// Wait returns the messages as soon as done(messages) is true, or an
// error listing what arrived if it is still false after timeout.
func (s *Socket) Wait(timeout time.Duration, done func([]Message) bool) ([]Message, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		msgs, changed := slices.Clone(s.msgs), s.changed
		s.mu.Unlock()
		if done(msgs) {
			return msgs, nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return msgs, fmt.Errorf("sdtest: condition not met within %v; received %s", timeout, describe(msgs))
		}
	}
}

// WaitState waits for the first message (from the start) containing the
// assignment a, e.g. "READY=1".
func (s *Socket) WaitState(timeout time.Duration, a string) (Message, error) {
	return s.WaitStateAfter(0, timeout, a)
}

// WaitStateAfter is WaitState ignoring the first skip messages (use
// len(Messages()) taken before the action awaited).
func (s *Socket) WaitStateAfter(skip int, timeout time.Duration, a string) (Message, error) {
	var found Message
	_, err := s.Wait(timeout, func(msgs []Message) bool {
		for _, m := range msgs[min(skip, len(msgs)):] {
			if m.Has(a) {
				found = m
				return true
			}
		}
		return false
	})
	if err != nil {
		return Message{}, fmt.Errorf("sdtest: waiting for %q: %w", a, err)
	}
	return found, nil
}

func describe(msgs []Message) string {
	if len(msgs) == 0 {
		return "nothing"
	}
	parts := make([]string, len(msgs))
	for i, m := range msgs {
		parts[i] = fmt.Sprintf("[pid %d] %q", m.PID, m.State)
	}
	return strings.Join(parts, ", ")
}

// Activate makes cmd start as systemd starts a socket-activated service:
// files become descriptors 3, 4, ... with LISTEN_FDS and LISTEN_FDNAMES
// set (names may be nil), and LISTEN_PID is the pid of the process that
// runs cmd's program. systemd sets LISTEN_PID between its fork and exec;
// here /bin/sh does it (LISTEN_PID=$$, then exec, which keeps the pid).
// Call it after setting cmd.Env (nil means os.Environ()) and before
// cmd.Start; cmd.ExtraFiles must be empty.
func Activate(cmd *exec.Cmd, names []string, files ...*os.File) {
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "LISTEN_PID=") || strings.HasPrefix(kv, "LISTEN_FDS=") || strings.HasPrefix(kv, "LISTEN_FDNAMES=")
	})
	env = append(env, "LISTEN_FDS="+strconv.Itoa(len(files)))
	if len(names) > 0 {
		env = append(env, "LISTEN_FDNAMES="+strings.Join(names, ":"))
	}
	cmd.Env = env
	cmd.ExtraFiles = files
	cmd.Args = append([]string{"sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = "/bin/sh"
}
