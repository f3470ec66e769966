package rdptest

import "net"

// Serve is a raw TCP server for a test that needs a peer the fake Server
// cannot play (one that answers with chosen bytes, says nothing, or never
// closes): it listens on a free loopback port and runs handle on each
// connection in its own goroutine, closing the connection when handle
// returns. The listener closes when the test ends (Serve waits for its
// accept loop; handlers still running are the caller's to end). It
// returns the listener's address.
//
//	addr := rdptest.Serve(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // a silent peer
func Serve(t TB, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("rdptest: serve: %v", err)
		return ""
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
