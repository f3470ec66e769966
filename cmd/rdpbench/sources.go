package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// sources are the local addresses the clients dial from, one per client
// worker, round robin. From one address to one destination, every
// connection needs its own ephemeral port, and at tens of thousands of
// connections per second the kernel's search for one not held by a
// TIME_WAIT socket becomes what is measured; 16 addresses give it 16 times
// the room. nil dials from the kernel's choice (127.0.0.1 here).
type sources []net.IP

// maxSources: 127.0.1.1 .. 127.0.1.254.
const maxSources = 254

// newSources returns 127.0.1.1 .. 127.0.1.n; n = 1 means the kernel's
// default source address.
func newSources(n int) (sources, error) {
	if n < 1 || n > maxSources {
		return nil, fmt.Errorf("sources: %d: want 1..%d", n, maxSources)
	}
	if n == 1 {
		return nil, nil
	}
	s := make(sources, n)
	for i := range s {
		s[i] = net.IPv4(127, 0, 1, byte(i+1))
	}
	return s, nil
}

// String is the report's description of s.
func (s sources) String() string {
	if len(s) == 0 {
		return "one source address (the kernel's choice, 127.0.0.1)"
	}
	return fmt.Sprintf("%d source addresses, %v to %v, round robin by client", len(s), s[0], s[len(s)-1])
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (linux/in.h), which the
// syscall package defines for some architectures only.
const ipBindAddressNoPort = 24

// dialer is the dialer of client worker i: from its source address, with
// the port left to connect(2) (IP_BIND_ADDRESS_NO_PORT). A plain bind to
// port 0 picks the port before the destination is known, so it must find
// one that no socket on that address holds, TIME_WAIT ones included;
// connect picks one free for this destination, as without a source address.
func (s sources) dialer(i int, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout}
	if len(s) == 0 {
		return d
	}
	d.LocalAddr = &net.TCPAddr{IP: s[i%len(s)]}
	d.Control = func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("IP_BIND_ADDRESS_NO_PORT: %w", serr)
		}
		return nil
	}
	return d
}

// dialSession is rdptest.Dial from d: connect, send a Connection Request
// with cookie, read the Connection Confirm, all within d.Timeout, and
// return the connection, deadlines cleared, where TLS would start.
func dialSession(d *net.Dialer, addr, cookie string) (net.Conn, error) {
	deadline := time.Now().Add(d.Timeout)
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	fail := func(step string, err error) (net.Conn, error) {
		c.Close()
		return nil, fmt.Errorf("dial %s: %s: %w", addr, step, err)
	}
	if err := c.SetDeadline(deadline); err != nil {
		return fail("set deadline", err)
	}
	req := rdp.ConnRequest{HasNegReq: true, RequestedProtocols: rdptest.ClientProtocols, Cookie: cookie,
		Token: rdp.RoutingToken{Kind: rdp.TokenCookie, Raw: rdp.CookiePrefix + cookie}}
	if _, err := c.Write(rdp.BuildConnectionRequest(req)); err != nil {
		return fail("send connection request", err)
	}
	cc, err := rdp.ReadConnectionConfirm(c)
	if err != nil {
		return fail("read connection confirm", err)
	}
	if cc.HasNeg && cc.NegType == rdp.NegTypeFailure {
		return fail("negotiation", fmt.Errorf("RDP_NEG_FAILURE code %d", cc.FailureCode))
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return fail("clear deadline", err)
	}
	return c, nil
}

// closeStyle is how a connection-rate client ends its connection after
// the Connection Confirm.
type closeStyle string

const (
	closeFIN closeStyle = "fin" // Close: FIN, the client side goes through TIME_WAIT
	closeRST closeStyle = "rst" // SO_LINGER 0, then Close: RST, no TIME_WAIT anywhere on the client side
)

// parseCloses reads -close.
func parseCloses(s string) ([]closeStyle, error) {
	var out []closeStyle
	for _, f := range splitList(s) {
		c := closeStyle(f)
		if c != closeFIN && c != closeRST {
			return nil, fmt.Errorf("close style %q: want fin or rst", f)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no close style")
	}
	return out, nil
}

// end closes c the way s says.
func (s closeStyle) end(c net.Conn) error {
	if tc, ok := c.(*net.TCPConn); ok && s == closeRST {
		if err := tc.SetLinger(0); err != nil {
			c.Close()
			return fmt.Errorf("set linger 0: %w", err)
		}
	}
	return c.Close()
}
