// Package rdptest provides a fake RDP terminal server and a client helper,
// for tests, the demo and the benchmark, like net/http/httptest does for
// HTTP.
//
// The server answers the X.224 Connection Request the way a real RDP
// server does (a Connection Confirm with RDP_NEG_RSP), records what it saw,
// and then echoes, swallows or drops the connection:
//
//	srv := rdptest.NewServer(t, rdptest.Config{Name: "ts01"})
//	c, cc, err := rdptest.Dial(srv.Addr(), "alice", 2*time.Second)
//	// ... c is the raw *net.TCPConn, ready for the "TLS" bytes; the
//	// server echoes them.
//	srv.Seen()[0].Cookie == "alice"
//
// Start makes a server outside tests; Close stops it.
package rdptest
