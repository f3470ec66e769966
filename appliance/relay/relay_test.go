package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair returns the two ends of one loopback TCP connection.
func pair(t testing.TB) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); ch <- c }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-ch
	if s == nil {
		t.Fatal("accept failed")
	}
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// session is client <-> [clientSide | Splice | serverSide] <-> server.
type session struct {
	client, clientSide, serverSide, server *net.TCPConn
	done                                   chan Result
}

func startSession(t testing.TB, halfClose time.Duration) *session {
	s := &session{done: make(chan Result, 1)}
	s.client, s.clientSide = pair(t)
	s.serverSide, s.server = pair(t)
	go func() {
		r := Splice(s.clientSide, s.serverSide, halfClose)
		s.clientSide.Close()
		s.serverSide.Close()
		s.done <- r
	}()
	t.Cleanup(func() { s.client.Close(); s.server.Close() })
	return s
}

func stream(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TestSpliceBothWaysExact: a bulk stream one way (splice) and small
// messages the other way arrive byte for byte; the counts and the end
// cause say what happened.
func TestSpliceBothWaysExact(t *testing.T) {
	s := startSession(t, time.Second)
	up := stream(3 << 20)
	down := []byte("small reply from the server")
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(s.server); got <- b }()
	go func() {
		s.server.Write(down)
	}()
	if _, err := s.client.Write(up); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(down))
	s.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(s.client, buf); err != nil || !bytes.Equal(buf, down) {
		t.Fatalf("down: %q, %v", buf, err)
	}
	s.client.CloseWrite() // FIN: the server sees EOF after the whole stream
	if b := <-got; !bytes.Equal(b, up) {
		t.Fatalf("up: %d bytes arrived, %d sent, equal=%v", len(b), len(up), bytes.Equal(b, up))
	}
	s.server.Close()
	select {
	case r := <-s.done:
		if r.In != int64(len(up)) || r.Out != int64(len(down)) || r.End != "client_closed" {
			t.Errorf("result = %+v, want in %d out %d end client_closed", r, len(up), len(down))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
}

// TestHalfCloseTimeout: a server that ignores the client's FIN (xrdp does)
// gets halfClose to finish, then the session ends.
func TestHalfCloseTimeout(t *testing.T) {
	s := startSession(t, 100*time.Millisecond)
	s.client.Close()
	select {
	case r := <-s.done:
		if r.End != "client_closed" {
			t.Errorf("end = %q", r.End)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("session held open by a server that ignores FIN")
	}
}

// TestDialAndReplay: the server receives the first packet byte for byte
// before anything else; a refused dial is an error.
func TestDialAndReplay(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	first := stream(43)
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b := make([]byte, len(first))
		io.ReadFull(c, b)
		got <- b
	}()
	d := NewDialer(DefaultConfig())
	c, err := d.DialAndReplay(context.Background(), ln.Addr().String(), first)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if b := <-got; !bytes.Equal(b, first) {
		t.Fatalf("server got %x, want %x", b, first)
	}
	ln.Close()
	if _, err := d.DialAndReplay(context.Background(), ln.Addr().String(), first); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
}

func TestEndCause(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "client_closed"},
		{net.ErrClosed, "closed_by_broker"},
		{context.DeadlineExceeded, "client_timeout"},
		{io.ErrUnexpectedEOF, "client_error"},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, "client_error"},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, "client_timeout"},
		{fmt.Errorf("wrapped: %w", &net.OpError{Op: "read", Err: syscall.ETIMEDOUT}), "client_timeout"},
	} {
		if got := EndCause("client", tc.err); got != tc.want {
			t.Errorf("EndCause(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if got := EndCause("peer", nil); got != "peer_closed" {
		t.Errorf("EndCause(peer, nil) = %q", got)
	}
	if got := EndCause("server", io.ErrUnexpectedEOF); got != "server_error" {
		t.Errorf("EndCause(server, ...) = %q", got)
	}
}

// TestAbortIsMirrored: a client that resets its connection makes the
// server's side reset too (the server's read fails with ECONNRESET), and
// a server's reset reaches the client the same way; a clean close stays a
// clean close (EOF at the other end).
func TestAbortIsMirrored(t *testing.T) {
	abort := func(c *net.TCPConn) { c.SetLinger(0); c.Close() }
	cases := []struct {
		name      string
		end       func(s *session) // how one side ends
		far       func(s *session) *net.TCPConn
		wantReset bool
		wantEnd   string
	}{
		{"client resets", func(s *session) { abort(s.client) }, func(s *session) *net.TCPConn { return s.server }, true, "client_error"},
		{"server resets", func(s *session) { abort(s.server) }, func(s *session) *net.TCPConn { return s.client }, true, "server_error"},
		{"client closes", func(s *session) { s.client.Close() }, func(s *session) *net.TCPConn { return s.server }, false, "client_closed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startSession(t, time.Second)
			// One exchange first, so the session is relaying, then the end.
			s.client.Write([]byte("ping"))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(s.server, buf); err != nil {
				t.Fatal(err)
			}
			tc.end(s)
			far := tc.far(s)
			far.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := far.Read(buf)
			if reset := errors.Is(err, syscall.ECONNRESET); reset != tc.wantReset {
				t.Fatalf("far side read: %v; want reset %v", err, tc.wantReset)
			}
			if !tc.wantReset && err != io.EOF {
				t.Fatalf("far side read: %v, want EOF", err)
			}
			far.Close()
			select {
			case r := <-s.done:
				if r.End != tc.wantEnd {
					t.Fatalf("end %q, want %q", r.End, tc.wantEnd)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("session did not end")
			}
		})
	}
}

// TestDialTimesOutAtConnectTimeout: a server whose accept queue is full
// drops the SYN; the dial gives up at the connect timeout with a timeout
// error, not later and not at once.
func TestDialTimesOutAtConnectTimeout(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // room for one connection, never accepted
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue: once full, the kernel drops further SYNs.
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		defer c.Close()
	}
	const timeout = 300 * time.Millisecond
	d := NewDialer(Config{ConnectTimeout: timeout})
	start := time.Now()
	c, err := d.DialAndReplay(context.Background(), addr, []byte("first"))
	took := time.Since(start)
	if err == nil {
		c.Close()
		t.Fatal("dial to a full accept queue succeeded")
	}
	if !isTimeout(err) || took < timeout-20*time.Millisecond || took > timeout+time.Second {
		t.Fatalf("dial failed after %v with %v; want a timeout after about %v", took, err, timeout)
	}
	// A cancelled context is refused before dialling.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.DialAndReplay(ctx, addr, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a cancelled context: %v", err)
	}
}
