// Package rdptest is the one home for the project's test helpers: a fake
// RDP terminal server and client, free loopback addresses, a log buffer,
// poll-until waits and a small disk that fills up. Every package's tests
// use these rather than writing their own; a helper two packages need
// belongs here.
//
// The fake server (server.go, dial.go, bulk.go) is for tests, the demo and
// the benchmark, like net/http/httptest is for HTTP. It answers the X.224
// Connection Request the way a real RDP server does (a Connection Confirm
// with RDP_NEG_RSP), records what it saw, and then echoes, swallows or
// drops the connection:
//
//	srv := rdptest.NewServer(t, rdptest.Config{Name: "ts01"})
//	c, cc, err := rdptest.Dial(srv.Addr(), "alice", 2*time.Second)
//	// ... c is the raw *net.TCPConn, ready for the "TLS" bytes; the
//	// server echoes them.
//	srv.Seen()[0].Cookie == "alice"
//
// Start makes a server outside tests; Close stops it.
//
// The test helpers, one file each:
//
//	addr := rdptest.FreeAddr(t)       // addr.go: 127.0.0.1:PORT, free a moment ago
//	peer := rdptest.FreeTCPUDPAddr(t) // ... free for TCP and UDP (memberlist)
//
//	logs := &rdptest.LogBuffer{}      // logbuf.go: goroutine-safe
//	log := logs.Logger(slog.LevelDebug)
//	logs.Count("peer up"); logs.Messages("session")
//
//	// poll.go: bounded, polls every few ms, fails saying what it waited for
//	rdptest.Eventually(t, 5*time.Second, "ts01 down", func() bool { return !ts01.Healthy() })
//
//	dir := rdptest.Tmpfs(t, 1<<20)   // disk.go: a real tmpfs (root, else skip)
//	filler := rdptest.Fill(t, dir)   // ... until ENOSPC; os.Remove(filler) frees it
//	rdptest.ReadOnly(t, dir, true)   // ... remounted read-only
//
// The helpers take TB (or DiskTB), the part of testing.TB they need, so
// that the package, which the demo and the benchmark link, does not pull
// the testing package into the binaries.
package rdptest
