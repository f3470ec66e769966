package main

// Harness of the upgrade tests (upgrade_e2e_test.go): a second broker
// binary with another version, verified byte streams through the broker,
// idle sessions, `ctl` calls and processes that are not the test's
// children (the new broker is the old one's).

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// buildVersion builds the broker with main.version set, into dir.
func buildVersion(t *testing.T, dir, version string) string {
	t.Helper()
	bin := filepath.Join(dir, "rdpbroker")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	args := []string{"build", "-o", bin, "-ldflags", "-X main.version=" + version}
	if raceEnabled() {
		args = append(args, "-race")
	}
	out, err := exec.Command(goBin, append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build version %s: %v\n%s", version, err, out)
	}
	return bin
}

// streamGen is a deterministic byte stream: the writer and the reader of
// one session produce the same bytes whatever the chunking (8 bytes per
// xorshift step: the race detector makes a per-byte loop slow).
type streamGen struct {
	x    uint64
	left []byte // bytes of the last step not used yet
	word [8]byte
}

func newStreamGen(seed int) *streamGen { return &streamGen{x: uint64(seed)*0x9E3779B97F4A7C15 | 1} }

func (g *streamGen) fill(b []byte) {
	n := copy(b, g.left)
	g.left = g.left[n:]
	b = b[n:]
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, g.next())
		b = b[8:]
	}
	if len(b) > 0 {
		binary.LittleEndian.PutUint64(g.word[:], g.next())
		n := copy(b, g.word[:])
		g.left = g.word[n:]
	}
}

func (g *streamGen) next() uint64 {
	g.x ^= g.x << 13
	g.x ^= g.x >> 7
	g.x ^= g.x << 17
	return g.x
}

// chunkSizes mixes small writes (the relay's small mode) and large ones
// (a full 16 KiB read switches a direction to splice).
var chunkSizes = []int{1, 100, 1400, 16384, 40000, 7, 65536, 3000}

// verifiedStream writes a deterministic stream to an echoing server
// through the broker and checks every byte echoed back.
type verifiedStream struct {
	id       int
	c        net.Conn
	sent     atomic.Int64
	verified atomic.Int64
	stop     chan struct{}
	done     chan error // the reader's verdict
}

// startStream dials addr as login and streams until finish.
func startStream(t *testing.T, addr, login string, id int) *verifiedStream {
	t.Helper()
	c, _, err := rdptest.Dial(addr, login, 5*time.Second)
	if err != nil {
		t.Fatalf("stream %d: %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	s := &verifiedStream{id: id, c: c, stop: make(chan struct{}), done: make(chan error, 1)}
	go s.write()
	go func() { s.done <- s.read() }()
	return s
}

// write sends chunks, paced (10 ms apart) and at most 1 MiB ahead of what
// came back, until stop; then it half-closes.
func (s *verifiedStream) write() {
	defer s.c.(*net.TCPConn).CloseWrite()
	g := newStreamGen(s.id)
	buf := make([]byte, 65536)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		if s.sent.Load()-s.verified.Load() > 1<<20 {
			continue
		}
		n := chunkSizes[(i+s.id)%len(chunkSizes)]
		g.fill(buf[:n])
		if _, err := s.c.Write(buf[:n]); err != nil {
			return
		}
		s.sent.Add(int64(n))
	}
}

// read checks the echo byte for byte until EOF.
func (s *verifiedStream) read() error {
	g := newStreamGen(s.id)
	buf, want := make([]byte, 65536), make([]byte, 65536)
	for {
		n, err := s.c.Read(buf)
		if n > 0 {
			g.fill(want[:n])
			if i := firstDiff(buf[:n], want[:n]); i >= 0 {
				return fmt.Errorf("stream %d: byte %d differs (got %#x, want %#x)", s.id, s.verified.Load()+int64(i), buf[i], want[i])
			}
			s.verified.Add(int64(n))
		}
		if errors.Is(err, io.EOF) {
			if v, w := s.verified.Load(), s.sent.Load(); v != w {
				return fmt.Errorf("stream %d: %d bytes echoed, %d sent", s.id, v, w)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("stream %d after %d bytes: %w", s.id, s.verified.Load(), err)
		}
	}
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

// finish stops the writer and waits (bounded) for the reader's verdict.
func (s *verifiedStream) finish(timeout time.Duration) error {
	close(s.stop)
	s.c.SetReadDeadline(time.Now().Add(timeout))
	return <-s.done
}

// waitVerified waits until every stream has had at least n more bytes
// echoed than it had at the call.
func waitVerified(t *testing.T, streams []*verifiedStream, n int64, timeout time.Duration) {
	t.Helper()
	base := make([]int64, len(streams))
	for i, s := range streams {
		base[i] = s.verified.Load()
	}
	ok, why := rdptest.Poll(timeout, func() (bool, string) {
		for i, s := range streams {
			if s.verified.Load() < base[i]+n {
				return false, fmt.Sprintf("stream %d: %d bytes echoed since, want %d", s.id, s.verified.Load()-base[i], n)
			}
		}
		return true, ""
	})
	if !ok {
		t.Fatalf("streams stalled: %s", why)
	}
}

// dialIdle opens n sessions that stay silent.
func dialIdle(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range n {
		c, _, err := rdptest.Dial(addr, fmt.Sprintf("idle%03d", i), 5*time.Second)
		if err != nil {
			t.Fatalf("idle session %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	return conns
}

// pingAll checks that every idle session still relays, both ways.
func pingAll(t *testing.T, conns []net.Conn) {
	t.Helper()
	failed := 0
	for i, c := range conns {
		msg := []byte(fmt.Sprintf("ping %03d", i))
		c.SetDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(msg))
		_, err := c.Write(msg)
		if err == nil {
			_, err = io.ReadFull(c, got)
		}
		c.SetDeadline(time.Time{})
		if err != nil || !bytes.Equal(got, msg) {
			if failed++; failed <= 5 {
				t.Errorf("idle session %d: %q, %v", i, got, err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d idle sessions broken", failed, len(conns))
	}
}

// upgradeStatus is the part of `ctl --json status` the tests read.
type upgradeStatus struct {
	PID     int    `json:"pid"`
	Version string `json:"version"`
}

// runCtl runs `bin ctl --socket sock args...` (bounded) and returns its
// output and exit code.
func runCtl(t *testing.T, bin, sock string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"ctl", "--socket", sock}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("ctl %v: %v", args, err)
	}
	return string(out), 0
}

func upgradeCtlStatus(t *testing.T, bin, sock string) upgradeStatus {
	t.Helper()
	out, code := runCtl(t, bin, sock, "--json", "status")
	var st upgradeStatus
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("ctl status: exit %d: %s", code, out)
	}
	return st
}

// procAlive reports whether pid runs (a zombie does not: the new broker is
// reparented when the old one exits, and nobody may reap it here).
func procAlive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// killOnCleanup makes sure pid (a process the test did not start) is gone
// when the test ends.
func killOnCleanup(t *testing.T, pid int) {
	t.Cleanup(func() {
		if procAlive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// logInt returns the integer value of key in the first msg line of log.
func logInt(log, msg, key string) int {
	for _, kv := range logLines(log, msg) {
		if n, err := strconv.Atoi(kv[key]); err == nil {
			return n
		}
	}
	return -1
}

// TestStreamGenChunking: the stream is the same whatever the chunk sizes
// (the writer and the reader of a stream cut it differently).
func TestStreamGenChunking(t *testing.T) {
	whole := make([]byte, 100000)
	newStreamGen(7).fill(whole)
	g, got := newStreamGen(7), make([]byte, 0, len(whole))
	for i := 0; len(got) < len(whole); i++ {
		n := min(chunkSizes[i%len(chunkSizes)]%13+i%5, len(whole)-len(got))
		b := make([]byte, n)
		g.fill(b)
		got = append(got, b...)
	}
	if i := firstDiff(got, whole); i >= 0 {
		t.Fatalf("chunked stream differs at byte %d", i)
	}
}
