package rdptest

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// readSizes is a net.Conn that serves r, at most chunk bytes a Read, and
// records the size of every buffer it is asked to fill.
type readSizes struct {
	net.Conn
	r     io.Reader
	chunk int
	sizes []int
}

func (c *readSizes) Read(p []byte) (int, error) {
	c.sizes = append(c.sizes, len(p))
	return c.r.Read(p[:min(len(p), c.chunk)])
}

func TestSinkBuffer(t *testing.T) {
	tests := []struct {
		name         string
		total, chunk int
		wantLast     int // buffer size of the last read (the one that sees EOF)
	}{
		{"empty", 0, sinkLarge, sinkSmall},
		{"interactive packets stay small", 64 << 10, 100, sinkSmall},
		{"exactly one small buffer grows", sinkSmall, sinkLarge, sinkLarge},
		{"upload grows", 5 << 20, sinkLarge, sinkLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &readSizes{r: bytes.NewReader(make([]byte, tc.total)), chunk: tc.chunk}
			n, err := sink(c)
			if n != int64(tc.total) || err != nil {
				t.Fatalf("sink = %d, %v; want %d, nil", n, err, tc.total)
			}
			if c.sizes[0] != sinkSmall {
				t.Errorf("first read into %d bytes, want %d", c.sizes[0], sinkSmall)
			}
			if last := c.sizes[len(c.sizes)-1]; last != tc.wantLast {
				t.Errorf("last read into %d bytes, want %d", last, tc.wantLast)
			}
		})
	}
}

func TestSinkServerCountsUpload(t *testing.T) {
	var logs LogBuffer
	srv, err := Start(Config{Name: "ts01", Mode: Sink, Logger: logs.Logger(slog.LevelDebug)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _, err := Dial(srv.Addr(), "alice", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const size = 8<<20 + 123 // multi-MB, not a multiple of either buffer
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Write(make([]byte, size)); n != size || err != nil {
		t.Fatalf("upload: wrote %d of %d: %v", n, size, err)
	}
	c.(*net.TCPConn).CloseWrite()
	// The sink absorbs everything, then closes on our half-close: a clean
	// EOF, and not a byte back.
	if n, err := io.Copy(io.Discard, c); n != 0 || err != nil {
		t.Fatalf("after the upload: %d bytes back, %v; want a clean EOF", n, err)
	}
	EventuallyWhy(t, 2*time.Second, func() string {
		if n := srv.Active(); n != 0 {
			return fmt.Sprintf("%d connections still active", n)
		}
		return ""
	})
	srv.Close() // waits for the session's goroutine, so logs is complete
	line := ""
	for _, l := range logs.Lines() {
		if strings.Contains(l, `msg="sink done"`) {
			line = l
		}
	}
	if !strings.Contains(line, " server=ts01 ") || !strings.Contains(line, fmt.Sprintf(" bytes=%d ", size)) {
		t.Fatalf("sink log line %q; want server=ts01 bytes=%d", line, size)
	}
}
