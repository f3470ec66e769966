package rdptest

import (
	"fmt"
	"net"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// ClientProtocols are the protocols Dial requests: SSL | HYBRID, what
// FreeRDP asks for by default.
const ClientProtocols = rdp.ProtocolSSL | rdp.ProtocolHybrid

// Dial connects to addr like an RDP client: it sends a Connection Request
// with "Cookie: mstshash=<cookie>" (no cookie line when cookie is "") and an
// RDP_NEG_REQ for ClientProtocols, and reads the Connection Confirm. See
// DialRequest.
func Dial(addr, cookie string, timeout time.Duration) (net.Conn, rdp.ConnConfirm, error) {
	req := rdp.ConnRequest{HasNegReq: true, RequestedProtocols: ClientProtocols}
	if cookie != "" {
		req.Cookie = cookie
		req.Token = rdp.RoutingToken{Kind: rdp.TokenCookie, Raw: rdp.CookiePrefix + cookie}
	}
	return DialRequest(addr, req, timeout)
}

// DialRequest connects to addr, sends rdp.BuildConnectionRequest(req) and
// reads exactly the Connection Confirm, all within timeout. On success it
// returns the raw *net.TCPConn, deadlines cleared, positioned where the TLS
// handshake would start. An RDP_NEG_FAILURE is an error: the connection is
// closed and the confirm returned with it.
func DialRequest(addr string, req rdp.ConnRequest, timeout time.Duration) (net.Conn, rdp.ConnConfirm, error) {
	deadline := time.Now().Add(timeout)
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, rdp.ConnConfirm{}, fmt.Errorf("rdptest: dial %s: %w", addr, err)
	}
	fail := func(cc rdp.ConnConfirm, step string, err error) (net.Conn, rdp.ConnConfirm, error) {
		c.Close()
		return nil, cc, fmt.Errorf("rdptest: dial %s: %s: %w", addr, step, err)
	}
	if err := c.SetDeadline(deadline); err != nil {
		return fail(rdp.ConnConfirm{}, "set deadline", err)
	}
	if _, err := c.Write(rdp.BuildConnectionRequest(req)); err != nil {
		return fail(rdp.ConnConfirm{}, "send connection request", err)
	}
	cc, err := rdp.ReadConnectionConfirm(c)
	if err != nil {
		return fail(cc, "read connection confirm", err)
	}
	if cc.HasNeg && cc.NegType == rdp.NegTypeFailure {
		return fail(cc, "negotiation", fmt.Errorf("RDP_NEG_FAILURE code %d", cc.FailureCode))
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return fail(cc, "clear deadline", err)
	}
	return c, cc, nil
}
