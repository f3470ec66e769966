package rdp

import "net/netip"

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
	NegFlagRestrictedAdmin = 0x01
	NegFlagRedirectedAuth  = 0x02
	NegFlagCorrelationInfo = 0x08
)

// Security protocols (requestedProtocols / selectedProtocol).
const (
	ProtocolRDP      uint32 = 0x00
	ProtocolSSL      uint32 = 0x01
	ProtocolHybrid   uint32 = 0x02
	ProtocolRDSTLS   uint32 = 0x04
	ProtocolHybridEx uint32 = 0x08
	ProtocolRDSAAD   uint32 = 0x10
)

// ConnRequest is a parsed X.224 Connection Request.
type ConnRequest struct {
	// Cookie is the mstshash identifier exactly as sent ("" if none).
	Cookie string
	// Token is the routing line: Kind is TokenCookie when Cookie is set.
	Token RoutingToken
	// HasNegReq reports whether an RDP_NEG_REQ followed.
	HasNegReq bool
	// NegFlags and RequestedProtocols come from RDP_NEG_REQ.
	NegFlags           uint8
	RequestedProtocols uint32
	// HasCorrelation reports an RDP_CORRELATION_INFO; CorrelationID is its id.
	HasCorrelation bool
	CorrelationID  [16]byte
}
