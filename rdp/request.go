package rdp

import (
	"fmt"
	"net/netip"
)

// TokenKind says what the optional line in front of RDP_NEG_REQ was.
type TokenKind uint8

const (
	// TokenNone: the request carried neither a cookie nor a routing token.
	TokenNone TokenKind = iota
	// TokenCookie: "Cookie: mstshash=<identifier>\r\n" (ConnRequest.Cookie holds the identifier).
	TokenCookie
	// TokenMSTS: "Cookie: msts=<A>.<P>.0000\r\n", an RD Connection Broker
	// redirection token naming a server address (RoutingToken.Addr).
	TokenMSTS
	// TokenTSV: "tsv://MS Terminal Services Plugin.1.<Collection>\r\n"
	// (RoutingToken.Collection).
	TokenTSV
	// TokenOther: some other CRLF-terminated routing token (RoutingToken.Raw).
	TokenOther
)

// String returns the kind's name as used in logs and metrics labels.
func (k TokenKind) String() string {
	switch k {
	case TokenNone:
		return "none"
	case TokenCookie:
		return "mstshash"
	case TokenMSTS:
		return "msts"
	case TokenTSV:
		return "tsv"
	case TokenOther:
		return "other"
	}
	return "unknown"
}

// RoutingToken is the parsed routing line of a Connection Request.
type RoutingToken struct {
	// Kind says which line it was; TokenNone when there was none.
	Kind TokenKind
	// Raw is the line as sent, without the trailing CRLF (empty for TokenNone).
	Raw string
	// Addr is the server address a TokenMSTS names. It is only a claim by
	// the client: the broker honours it only if it is a configured server.
	Addr netip.AddrPort
	// Collection is the RDS collection name of a TokenTSV, as sent.
	Collection string
}

// Negotiation request flags (MS-RDPBCGR 2.2.1.1.1).
const (
	// NegFlagRestrictedAdmin: RESTRICTED_ADMIN_MODE_REQUIRED.
	NegFlagRestrictedAdmin = 0x01
	// NegFlagRedirectedAuth: REDIRECTED_AUTHENTICATION_MODE_REQUIRED
	// (Remote Credential Guard).
	NegFlagRedirectedAuth = 0x02
	// NegFlagCorrelationInfo: CORRELATION_INFO_PRESENT, an
	// RDP_CORRELATION_INFO follows RDP_NEG_REQ.
	NegFlagCorrelationInfo = 0x08
)

// Security protocols (requestedProtocols, a bit set, and selectedProtocol).
const (
	// ProtocolRDP is standard RDP security (no bit set).
	ProtocolRDP uint32 = 0x00
	// ProtocolSSL is TLS.
	ProtocolSSL uint32 = 0x01
	// ProtocolHybrid is CredSSP (NLA) over TLS.
	ProtocolHybrid uint32 = 0x02
	// ProtocolRDSTLS is RDSTLS (server redirection with a cookie).
	ProtocolRDSTLS uint32 = 0x04
	// ProtocolHybridEx is CredSSP with the Early User Authorization PDU.
	ProtocolHybridEx uint32 = 0x08
	// ProtocolRDSAAD is RDS AAD authentication (Entra ID).
	ProtocolRDSAAD uint32 = 0x10
)

// ConnRequest is a parsed X.224 Connection Request.
type ConnRequest struct {
	// Cookie is the mstshash identifier exactly as sent ("" if none).
	Cookie string
	// Token is the routing line: Kind is TokenCookie when Cookie is set.
	Token RoutingToken
	// HasNegReq reports whether an RDP_NEG_REQ followed.
	HasNegReq bool
	// NegFlags are the RDP_NEG_REQ flags (NegFlag*).
	NegFlags uint8
	// RequestedProtocols is the RDP_NEG_REQ protocol set (Protocol*).
	RequestedProtocols uint32
	// HasCorrelation reports an RDP_CORRELATION_INFO (NegFlags then has
	// NegFlagCorrelationInfo).
	HasCorrelation bool
	// CorrelationID is the RDP_CORRELATION_INFO id, as sent.
	CorrelationID [16]byte
}

// ParseConnectionRequest parses one complete client Connection Request
// (MS-RDPBCGR 2.2.1.1): TPKT header, X.224 CR header, then optionally a
// cookie or routing-token line, then optionally RDP_NEG_REQ, followed by
// RDP_CORRELATION_INFO when its flag 0x08 is set. b must be exactly one
// packet. The function is pure: it never panics, never reads past b and
// does not retain b.
//
// Strictness:
//   - TPKT: version 3, reserved 0, length == len(b), MinPacketLen..MaxPacketLen
//     (ErrTLS if b starts with 0x16, ErrNotTPKT, ErrShort, ErrTPKTLength).
//   - X.224: LI == length-5 (ErrX224Length), code 0xE0 and dst-ref 0
//     (ErrNotCR), class/options 0 (ErrClass); src-ref is ignored.
//   - Line: the bytes after the X.224 header are RDP_NEG_REQ if they start
//     with its type byte 0x01 (never a printable byte); otherwise a line of
//     printable bytes ending at the first CRLF (ErrCookie). "Cookie:
//     mstshash=" (ASCII case ignored) with a non-empty identifier is a
//     cookie; "Cookie: msts=" and "tsv://MS Terminal Services Plugin.1."
//     are routing tokens that must parse (ErrRoutingToken); any other line
//     is a TokenOther. Only one line: a second one is not an RDP_NEG_REQ.
//   - RDP_NEG_REQ: type 0x01, length 8, any flags and protocols (ErrNegReq).
//     With flag 0x08, RDP_CORRELATION_INFO: type 0x06, flags 0, length 36
//     (ErrCorrelation); its id and reserved bytes are not judged (the
//     spec's SHOULD NOTs and MUST-be-zero are the server's business).
//   - Nothing may follow (ErrTrailing).
//
// Errors wrap one of the sentinels above; test them with errors.Is.
func ParseConnectionRequest(b []byte) (ConnRequest, error) {
	if err := checkTPKT(b); err != nil {
		return ConnRequest{}, fmt.Errorf("rdp: parse connection request: %w", err)
	}
	if err := checkX224(b, x224CodeCR); err != nil {
		return ConnRequest{}, fmt.Errorf("rdp: parse connection request: %w", err)
	}
	var req ConnRequest
	rest := b[bodyOffset:]
	if len(rest) > 0 && rest[0] != negTypeReq {
		line, after, err := splitLine(rest)
		if err != nil {
			return ConnRequest{}, fmt.Errorf("rdp: parse connection request: %w", err)
		}
		if req.Cookie, req.Token, err = parseLine(line); err != nil {
			return ConnRequest{}, fmt.Errorf("rdp: parse connection request: %w", err)
		}
		rest = after
	}
	if len(rest) > 0 {
		if err := parseNegReq(rest, &req); err != nil {
			return ConnRequest{}, fmt.Errorf("rdp: parse connection request: %w", err)
		}
	}
	return req, nil
}

// BuildConnectionRequest encodes req as a client Connection Request, the
// inverse of ParseConnectionRequest: for every req that the parser returns,
// ParseConnectionRequest(BuildConnectionRequest(req)) == req. The X.224
// src-ref is 0.
//
// The line is, in this order: Token.Raw when Token is the TokenCookie line of
// Cookie (keeping the client's spelling of the prefix); CookiePrefix+Cookie
// when Cookie is set; Token.Raw when Token.Kind is not TokenNone; for a
// TokenMSTS or TokenTSV without Raw, a line made from Addr or Collection;
// else no line. Then RDP_NEG_REQ if HasNegReq, followed by
// RDP_CORRELATION_INFO when HasCorrelation (NegFlagCorrelationInfo is then
// set) or NegFlags has NegFlagCorrelationInfo.
//
// Fields are not validated: a line with CR, LF or control bytes, or a
// request longer than MaxPacketLen, is encoded anyway (the length indicator
// of an oversized one is 0xFF) and ParseConnectionRequest rejects the result.
func BuildConnectionRequest(req ConnRequest) []byte {
	line := requestLine(req)
	n := bodyOffset
	if line != "" {
		n += len(line) + 2
	}
	flags := req.NegFlags
	if req.HasNegReq {
		if req.HasCorrelation {
			flags |= NegFlagCorrelationInfo
		}
		n += NegLen
		if flags&NegFlagCorrelationInfo != 0 {
			n += CorrelationLen
		}
	}
	b := appendX224(make([]byte, 0, n), n, x224CodeCR, 0)
	if line != "" {
		b = append(b, line...)
		b = append(b, '\r', '\n')
	}
	if req.HasNegReq {
		b = appendNegReq(b, flags, req.RequestedProtocols, req.CorrelationID)
	}
	return b
}

// requestLine picks the cookie or routing-token line of req, without CRLF.
func requestLine(req ConnRequest) string {
	t := req.Token
	if req.Cookie != "" {
		if t.Kind == TokenCookie && hasPrefixFold(t.Raw, CookiePrefix) && t.Raw[len(CookiePrefix):] == req.Cookie {
			return t.Raw
		}
		return CookiePrefix + req.Cookie
	}
	switch {
	case t.Kind == TokenNone:
		return ""
	case t.Raw != "":
		return t.Raw
	case t.Kind == TokenMSTS:
		return MSTSPrefix + FormatMSTSToken(t.Addr)
	case t.Kind == TokenTSV:
		return TSVPrefix + t.Collection
	}
	return ""
}
