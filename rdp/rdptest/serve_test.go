package rdptest

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestServe(t *testing.T) {
	tb := &fakeTB{}
	addr := Serve(tb, func(c net.Conn) { c.Write([]byte("hi")) })
	if tb.fatal != "" || len(tb.cleanups) != 1 {
		t.Fatalf("fatal %q, %d cleanups", tb.fatal, len(tb.cleanups))
	}
	for range 2 { // every connection is handled, then closed
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if b, err := io.ReadAll(c); string(b) != "hi" || err != nil {
			t.Errorf("read %q, %v; want hi and EOF", b, err)
		}
		c.Close()
	}
	tb.cleanups[0]()
	if _, err := net.DialTimeout("tcp", addr, 500*time.Millisecond); err == nil {
		t.Error("still listening after cleanup")
	}
}
