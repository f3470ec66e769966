package main

import (
	"errors"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

func TestNewSources(t *testing.T) {
	if s, err := newSources(1); err != nil || s != nil {
		t.Errorf("newSources(1) = %v, %v; want the kernel's default (nil)", s, err)
	}
	s, err := newSources(16)
	if err != nil || len(s) != 16 || !s[0].Equal(net.IPv4(127, 0, 1, 1)) || !s[15].Equal(net.IPv4(127, 0, 1, 16)) {
		t.Errorf("newSources(16) = %v, %v; want 127.0.1.1 .. 127.0.1.16", s, err)
	}
	for _, n := range []int{0, -1, maxSources + 1} {
		if _, err := newSources(n); err == nil {
			t.Errorf("newSources(%d) accepted", n)
		}
	}
}

// listen accepts on 127.0.0.1 and hands each connection to the channel.
func listen(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			conns <- c
		}
	}()
	return ln.Addr().String(), conns
}

func TestDialerSource(t *testing.T) {
	addr, conns := listen(t)
	src, _ := newSources(4)
	for i, want := range []string{"127.0.1.1", "127.0.1.2", "127.0.1.4", "127.0.1.1"} {
		c, err := src.dialer([]int{0, 1, 3, 4}[i], time.Second).Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if ip := c.LocalAddr().(*net.TCPAddr).IP.String(); ip != want {
			t.Errorf("worker %d dialed from %s, want %s", i, ip, want)
		}
		if ip := (<-conns).RemoteAddr().(*net.TCPAddr).IP.String(); ip != want {
			t.Errorf("server saw %s, want %s", ip, want)
		}
		if v := sockopt(t, c, syscall.IPPROTO_IP, ipBindAddressNoPort); v != 1 {
			t.Errorf("IP_BIND_ADDRESS_NO_PORT = %d, want 1 (port chosen by connect)", v)
		}
	}
}

func sockopt(t *testing.T, c net.Conn, level, opt int) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	rc.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), level, opt) })
	if serr != nil {
		t.Fatal(serr)
	}
	return v
}

func TestDialSession(t *testing.T) {
	srv, err := rdptest.Start(rdptest.Config{Name: "ts01", ModeFor: farmMode})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	src, _ := newSources(16)
	c, err := dialSession(src.dialer(6, 2*time.Second), srv.Addr(), "idle00001")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ip := c.LocalAddr().(*net.TCPAddr).IP.String(); ip != "127.0.1.7" {
		t.Errorf("dialed from %s, want 127.0.1.7", ip)
	}
	if seen := srv.Seen(); len(seen) != 1 || seen[0].Cookie != "idle00001" {
		t.Errorf("server saw %v, want one request with cookie idle00001", seen)
	}
}

func TestParseCloses(t *testing.T) {
	got, err := parseCloses("fin, rst")
	if err != nil || !slices.Equal(got, []closeStyle{closeFIN, closeRST}) {
		t.Errorf("parseCloses = %v, %v", got, err)
	}
	for _, bad := range []string{"", "fin,abort", ","} {
		if _, err := parseCloses(bad); err == nil {
			t.Errorf("parseCloses(%q) accepted", bad)
		}
	}
}

// TestCloseStyle: the peer of a FIN close reads EOF, of an RST close a
// reset.
func TestCloseStyle(t *testing.T) {
	addr, conns := listen(t)
	for _, tc := range []struct {
		cl   closeStyle
		want error
	}{{closeFIN, io.EOF}, {closeRST, syscall.ECONNRESET}} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		peer := <-conns
		if err := tc.cl.end(c); err != nil {
			t.Fatal(err)
		}
		peer.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = peer.Read(make([]byte, 1))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: peer read %v, want %v", tc.cl, err, tc.want)
		}
	}
}

// closeFirst makes one connection to a fresh listener and closes the
// client side first, which leaves a TIME_WAIT socket toward the listener;
// it returns the listener's address.
func closeFirst(t *testing.T) string {
	t.Helper()
	addr, conns := listen(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	peer := <-conns
	c.Close()
	peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	peer.Read(make([]byte, 1)) // EOF: the client's FIN
	peer.Close()
	return addr
}
