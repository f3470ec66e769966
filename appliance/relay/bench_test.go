package relay

import (
	"io"
	"testing"
	"time"
)

// BenchmarkSpliceBulk: bytes per second through Splice, one direction,
// 1 MiB writes (the bulk path: io.Copy between raw TCP connections, which
// splices). Compare with BenchmarkDirectBulk, the same without the relay.
func BenchmarkSpliceBulk(b *testing.B) {
	s := startSession(b, time.Second)
	benchBulk(b, s.client, s.server)
}

// BenchmarkDirectBulk is the anchor: one loopback connection, no relay.
func BenchmarkDirectBulk(b *testing.B) {
	c, srv := pair(b)
	defer c.Close()
	defer srv.Close()
	benchBulk(b, c, srv)
}

func benchBulk(b *testing.B, w io.Writer, r io.Reader) {
	chunk := stream(1 << 20)
	done := make(chan int64, 1)
	go func() { n, _ := io.CopyN(io.Discard, r, int64(b.N)*int64(len(chunk))); done <- n }()
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if n := <-done; n != int64(b.N)*int64(len(chunk)) {
		b.Fatalf("%d bytes arrived", n)
	}
}

// BenchmarkSmallRoundTrip: one 100-byte message each way per op, the
// interactive path (small mode: a pooled buffer, no pipe).
func BenchmarkSmallRoundTrip(b *testing.B) {
	s := startSession(b, time.Second)
	msg := stream(100)
	buf := make([]byte, len(msg))
	go func() {
		rb := make([]byte, len(msg))
		for {
			if _, err := io.ReadFull(s.server, rb); err != nil {
				return
			}
			s.server.Write(rb)
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.client.Write(msg)
		if _, err := io.ReadFull(s.client, buf); err != nil {
			b.Fatal(err)
		}
	}
}
