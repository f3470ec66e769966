package relay

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// handOver is what an upgrade does with a quiesced session: duplicate both
// descriptors (another process would receive them over SCM_RIGHTS), end
// the old relay, close the old descriptors, relay from the new ones.
func handOver(t *testing.T, s *Session, halfClose time.Duration) (*Session, chan Result) {
	t.Helper()
	var dup [2]*net.TCPConn
	for i, c := range s.conns {
		f, err := c.File()
		if err != nil {
			t.Fatalf("dup: %v", err)
		}
		fc, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatalf("FileConn: %v", err)
		}
		dup[i] = fc.(*net.TCPConn)
	}
	if !s.Release() {
		t.Fatal("Release of a quiesced session returned false")
	}
	ns := NewSession(dup[0], dup[1], halfClose)
	return ns, run(ns)
}

// run runs s and closes its connections when it returns (as the broker
// does: the last FIN), unless it was handed over.
func run(s *Session) chan Result {
	done := make(chan Result, 1)
	go func() {
		r := s.Run()
		if r.End != EndHandedOver {
			s.conns[0].Close()
			s.conns[1].Close()
		}
		done <- r
	}()
	return done
}

// TestQuiesceHandOverExact: a stream both ways (bulk one way: splice;
// mixed sizes the other) survives five handovers mid-stream, byte for
// byte, and every relay's counts add up.
func TestQuiesceHandOverExact(t *testing.T) {
	client, clientSide := pair(t)
	serverSide, server := pair(t)
	t.Cleanup(func() { client.Close(); server.Close() })
	cur := NewSession(clientSide, serverSide, time.Second)
	results := make(chan Result, 8)
	first := run(cur)
	go func() { results <- <-first }()

	up, down := stream(8<<20), stream(3<<20)
	gotUp, gotDown := make(chan []byte, 1), make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(server); gotUp <- b }()
	go func() { b, _ := io.ReadAll(client); gotDown <- b }()
	go func() { writeChunks(client, up, 64<<10); client.CloseWrite() }()
	go func() { writeChunks(server, down, 700); server.CloseWrite() }()

	handed := 0
	for range 5 {
		if err := cur.Quiesce(time.Now().Add(5 * time.Second)); err != nil {
			if errors.Is(err, ErrEnding) {
				break // the stream is over already
			}
			t.Fatal(err)
		}
		prev := cur
		var done chan Result
		cur, done = handOver(t, prev, time.Second)
		go func() { results <- <-done }()
		for _, c := range prev.conns {
			c.Close()
		}
		handed++
	}
	if b := <-gotUp; !bytes.Equal(b, up) {
		t.Fatalf("client -> server: %d bytes arrived of %d, equal=%v", len(b), len(up), bytes.Equal(b, up))
	}
	if b := <-gotDown; !bytes.Equal(b, down) {
		t.Fatalf("server -> client: %d bytes arrived of %d", len(b), len(down))
	}
	var in, out int64
	for range handed + 1 {
		select {
		case r := <-results:
			in, out = in+r.In, out+r.Out
		case <-time.After(5 * time.Second):
			t.Fatal("a relay did not return")
		}
	}
	if in != int64(len(up)) || out != int64(len(down)) {
		t.Errorf("relays counted %d in, %d out; want %d, %d", in, out, len(up), len(down))
	}
	t.Logf("%d handovers mid-stream", handed)
}

func writeChunks(w io.Writer, b []byte, size int) {
	for i := 0; i < len(b); i += size {
		if _, err := w.Write(b[i:min(i+size, len(b))]); err != nil {
			return
		}
	}
}

// TestQuiesceTimeoutResumes: a direction blocked writing to a client that
// does not read cannot stop; the quiesce gives up at its deadline and the
// session goes on, every byte delivered once the client reads.
func TestQuiesceTimeoutResumes(t *testing.T) {
	client, clientSide := pair(t)
	serverSide, server := pair(t)
	t.Cleanup(func() { client.Close(); server.Close() })
	rs := NewSession(clientSide, serverSide, time.Second)
	done := run(rs)
	down := stream(32 << 20) // far more than the socket buffers hold
	go func() { server.Write(down); server.CloseWrite() }()
	// Until the relay is stuck writing to the client, a quiesce may still
	// succeed (resumed here); once it is stuck, the quiesce gives up.
	var err error
	resumed := 0
	for range 100 { // bounded poll: 100 x (up to 100 ms + 20 ms)
		err = rs.Quiesce(time.Now().Add(100 * time.Millisecond))
		if err != nil {
			break
		}
		rs.Resume()
		resumed++
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d quiesces succeeded (and were resumed) before the relay was stuck", resumed)
	if !errors.Is(err, ErrQuiesceTimeout) {
		t.Fatalf("Quiesce = %v, want ErrQuiesceTimeout", err)
	}
	got, _ := io.ReadAll(client)
	if !bytes.Equal(got, down) {
		t.Fatalf("%d bytes after a failed quiesce, want %d, equal=%v", len(got), len(down), bytes.Equal(got, down))
	}
	client.CloseWrite()
	select {
	case r := <-done:
		if r.Out != int64(len(down)) {
			t.Errorf("out = %d", r.Out)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
}

// TestQuiesceHalfClosed: a session one side already closed is ending: it
// is not quiesced, and it still ends by itself.
func TestQuiesceHalfClosed(t *testing.T) {
	client, clientSide := pair(t)
	serverSide, server := pair(t)
	t.Cleanup(func() { client.Close(); server.Close() })
	rs := NewSession(clientSide, serverSide, 300*time.Millisecond)
	done := run(rs)
	client.CloseWrite()
	if _, err := io.ReadAll(io.LimitReader(server, 1)); err != nil {
		t.Fatal(err)
	}
	var err error
	for range 100 { // bounded: the EOF reaches the relay at once
		if err = rs.Quiesce(time.Now().Add(time.Second)); errors.Is(err, ErrEnding) {
			break
		}
		rs.Resume()
		time.Sleep(5 * time.Millisecond)
	}
	if !errors.Is(err, ErrEnding) {
		t.Fatalf("Quiesce of a half-closed session = %v, want ErrEnding", err)
	}
	select {
	case r := <-done:
		if r.End != "client_closed" {
			t.Errorf("end = %q", r.End)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("half-closed session did not end after half_close_timeout")
	}
}

// TestQuiesceResumeIdle: an idle session quiesces at once and, resumed,
// relays as before; the same session quiesces again.
func TestQuiesceResumeIdle(t *testing.T) {
	client, clientSide := pair(t)
	serverSide, server := pair(t)
	t.Cleanup(func() { client.Close(); server.Close() })
	rs := NewSession(clientSide, serverSide, time.Second)
	run(rs)
	for i := range 3 {
		start := time.Now()
		if err := rs.Quiesce(time.Now().Add(time.Second)); err != nil {
			t.Fatalf("quiesce %d: %v", i, err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("idle quiesce took %v", d)
		}
		rs.Resume()
		msg := []byte("ping")
		client.Write(msg)
		buf := make([]byte, 4)
		server.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(server, buf); err != nil || !bytes.Equal(buf, msg) {
			t.Fatalf("after resume %d: %q %v", i, buf, err)
		}
	}
}
