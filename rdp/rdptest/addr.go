package rdptest

import (
	"net"
	"net/netip"
)

// FreeAddr returns a loopback address, "127.0.0.1:PORT", whose TCP port
// was free a moment ago: for a process or server that must be told its
// address before it listens, or for an address where nothing listens
// (a refused dial). Another process may take the port in between; where
// that matters, the caller retries with another one.
func FreeAddr(t TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("rdptest: free address: %v", err)
		return ""
	}
	defer l.Close()
	return l.Addr().String()
}

// FreeTCPUDPAddr returns a loopback address whose port was free a moment
// ago for both TCP and UDP, as a memberlist peer (which binds both on one
// port) needs.
func FreeTCPUDPAddr(t TB) string {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("rdptest: free TCP+UDP address: %v", err)
			return ""
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr
		}
	}
	t.Fatalf("rdptest: no port free for both TCP and UDP")
	return ""
}

// FreePort is FreeAddr's port, for a program configured with a port
// number rather than an address.
func FreePort(t TB) int {
	t.Helper()
	addr := FreeAddr(t)
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatalf("rdptest: free port: %v", err)
		return 0
	}
	return int(ap.Port())
}
