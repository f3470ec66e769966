package systemd_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rdpbroker/rdpbroker/appliance/systemd"
	"github.com/rdpbroker/rdpbroker/appliance/systemd/sdtest"
)

// syncBuffer is a log sink safe for the watchdog goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newLogger() (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// underSystemd points NOTIFY_SOCKET at a socket the test owns and clears
// the rest of the systemd environment.
func underSystemd(t *testing.T) *sdtest.Socket {
	t.Helper()
	sock := sdtest.Listen(t)
	t.Setenv("NOTIFY_SOCKET", sock.Path())
	for _, k := range []string{"WATCHDOG_USEC", "WATCHDOG_PID"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	return sock
}

func waitCount(t *testing.T, sock *sdtest.Socket, n int) []string {
	t.Helper()
	msgs, err := sock.Wait(5*time.Second, func(m []sdtest.Message) bool { return len(m) >= n })
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.State
		if m.PID != os.Getpid() {
			t.Errorf("message %q from pid %d, want %d", m.State, m.PID, os.Getpid())
		}
	}
	return out
}

func TestNotifySequence(t *testing.T) {
	sock := underSystemd(t)
	n := systemd.New(systemd.Options{Monotonic: func() time.Duration { return 1234567890 * time.Microsecond }})
	if !n.Enabled() {
		t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
	}
	steps := []func() error{
		n.Ready,
		n.Reloading,
		n.Ready,
		func() error { return n.Status("12 sessions\n3/4 servers up") },
		n.Stopping,
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []string{
		"READY=1",
		"RELOADING=1\nMONOTONIC_USEC=1234567890",
		"READY=1",
		"STATUS=12 sessions 3/4 servers up",
		"STOPPING=1",
	}
	if got := waitCount(t, sock, len(want)); !slices.Equal(got, want) {
		t.Fatalf("datagrams:\n got %q\nwant %q", got, want)
	}
}

// Reloading's default clock is CLOCK_MONOTONIC, what systemd compares to
// the time of its SIGHUP.
func TestReloadingMonotonicClock(t *testing.T) {
	sock := underSystemd(t)
	n := systemd.New(systemd.Options{})
	before := monotonicUsec(t)
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	after := monotonicUsec(t)
	m, err := sock.WaitState(5*time.Second, "RELOADING=1")
	if err != nil {
		t.Fatal(err)
	}
	v, ok := m.Value("MONOTONIC_USEC")
	if !ok {
		t.Fatalf("no MONOTONIC_USEC in %q", m.State)
	}
	usec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || usec < before || usec > after {
		t.Fatalf("MONOTONIC_USEC=%s, want a number in [%d, %d]", v, before, after)
	}
}

func monotonicUsec(t *testing.T) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1000
}

// The upgraded process announces itself: MAINPID= its pid, then READY=1,
// in one datagram, sent from that pid.
func TestTakeOverAndMainPID(t *testing.T) {
	sock := underSystemd(t)
	n := systemd.New(systemd.Options{})
	if err := n.MainPID(4242); err != nil {
		t.Fatal(err)
	}
	if err := n.TakeOver(); err != nil {
		t.Fatal(err)
	}
	want := []string{"MAINPID=4242", fmt.Sprintf("MAINPID=%d\nREADY=1", os.Getpid())}
	if got := waitCount(t, sock, 2); !slices.Equal(got, want) {
		t.Fatalf("datagrams:\n got %q\nwant %q", got, want)
	}
}

func TestNoOpWithoutNotifySocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	logger, logs := newLogger()
	n := systemd.New(systemd.Options{Logger: logger})
	if n.Enabled() {
		t.Fatal("Enabled() = true without NOTIFY_SOCKET")
	}
	for _, f := range []func() error{n.Ready, n.Reloading, n.Stopping, n.TakeOver, func() error { return n.Status("x") }} {
		if err := f(); err != nil {
			t.Fatalf("no-op returned %v", err)
		}
	}
	if env := n.UpgradeEnv(); len(env) != 0 {
		t.Fatalf("UpgradeEnv() = %q outside systemd", env)
	}
	if logs.String() != "" {
		t.Fatalf("logged outside systemd: %s", logs)
	}
}

// A socket that is gone is logged once per streak of failures, and the
// recovery once; every call still reports its error.
func TestNotifyFailureLoggedOnce(t *testing.T) {
	dir, err := os.MkdirTemp("", "sdfail")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	t.Setenv("NOTIFY_SOCKET", path)
	logger, logs := newLogger()
	n := systemd.New(systemd.Options{Logger: logger})
	for range 3 {
		if err := n.Ready(); err == nil || !strings.Contains(err.Error(), "systemd: notify READY=1") {
			t.Fatalf("Ready() to a missing socket = %v", err)
		}
	}
	if c := strings.Count(logs.String(), "notification failed"); c != 1 {
		t.Fatalf("failure logged %d times, want 1:\n%s", c, logs)
	}
	// The socket appears: the next send works and says so once.
	ln, err := listenGram(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range 2 {
		if err := n.Ready(); err != nil {
			t.Fatalf("Ready() with the socket back: %v", err)
		}
	}
	if c := strings.Count(logs.String(), "work again"); c != 1 {
		t.Fatalf("recovery logged %d times, want 1:\n%s", c, logs)
	}
}

func listenGram(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// UpgradeEnv passes NOTIFY_SOCKET and WATCHDOG_USEC, never a WATCHDOG_PID,
// and New unset the watchdog variables so no child inherits our pid.
func TestUpgradeEnv(t *testing.T) {
	sock := underSystemd(t)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := systemd.New(systemd.Options{})
	if got := n.WatchdogInterval(); got != 3*time.Second {
		t.Fatalf("WatchdogInterval() = %v, want 3s", got)
	}
	for _, k := range []string{"WATCHDOG_USEC", "WATCHDOG_PID"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%s still in the environment after New", k, v)
		}
	}
	if os.Getenv("NOTIFY_SOCKET") != sock.Path() {
		t.Error("NOTIFY_SOCKET was unset by New; the upgraded process would not inherit it")
	}
	want := []string{"NOTIFY_SOCKET=" + sock.Path(), "WATCHDOG_USEC=3000000"}
	if got := n.UpgradeEnv(); !slices.Equal(got, want) {
		t.Fatalf("UpgradeEnv() = %q, want %q", got, want)
	}
}
