// Package rdp owns the RDP wire format the broker needs and nothing more:
// the first client packet (TPKT + X.224 Connection Request with its optional
// mstshash cookie or routing token, RDP_NEG_REQ and correlation info), the
// server's Connection Confirm, login normalisation (cookies are bytes:
// UTF-8 when valid, else Windows-1252, see DecodeCookie), the health probe,
// and the RDP-UDP SYN datagram (ParseUDPSyn) whose correlation id ties a
// UDP flow to its TCP connection.
//
// Typical use on the accept path:
//
//	raw, req, err := rdp.ReadConnectionRequest(conn, time.Now().Add(2*time.Second))
//	if err != nil { /* count errors.Is(err, rdp.ErrTLS) etc., close */ }
//	login := rdp.NormalizeLogin(req.Cookie)
//	// pick a server, write raw to it, splice.
//
// Parsers are pure functions of bytes (Parse*), return sentinel errors that
// callers test with errors.Is, and never read past the packet they parse.
// Build* functions are their inverses, for tests, the benchmark and the
// health probe. testdata/*.hex holds real client and server packets
// (FreeRDP, xrdp), packets and datagrams (udp_*) built from the spec's
// layouts, and malformed ones, each with the error it must give.
//
// Subpackage rdptest provides a fake RDP server and client.
// The package depends on the standard library only.
package rdp
