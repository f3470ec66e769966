package rdp

import "errors"

// Sentinel errors. Parsers and readers wrap them with detail
// ("rdp: bad TPKT length: 600 > 259"); test for them with errors.Is.
var (
	// ErrShort: fewer bytes than a header needs, or than the TPKT length
	// announces (the peer closed or the caller passed a truncated packet),
	// or than the structures an RDP-UDP SYN's flags announce.
	ErrShort = errors.New("rdp: short packet")
	// ErrTLS: the first byte is 0x16, a TLS handshake record: the client
	// skipped X.224 negotiation and there is no cookie to read.
	ErrTLS = errors.New("rdp: TLS handshake instead of an X.224 Connection Request")
	// ErrNotTPKT: the packet does not start with TPKT version 3, reserved 0.
	ErrNotTPKT = errors.New("rdp: not a TPKT packet")
	// ErrTPKTLength: the TPKT length is out of range (MinPacketLen..MaxPacketLen)
	// or differs from the number of bytes given.
	ErrTPKTLength = errors.New("rdp: bad TPKT length")
	// ErrX224Length: the X.224 length indicator disagrees with the TPKT length.
	ErrX224Length = errors.New("rdp: bad X.224 length indicator")
	// ErrNotCR: the TPDU is not an X.224 Connection Request (code 0xE0, dst-ref 0).
	ErrNotCR = errors.New("rdp: not an X.224 Connection Request")
	// ErrNotCC: the TPDU is not an X.224 Connection Confirm (code 0xD0).
	ErrNotCC = errors.New("rdp: not an X.224 Connection Confirm")
	// ErrClass: the X.224 class/options byte is not 0 (class 0, no options).
	ErrClass = errors.New("rdp: X.224 class or options not 0")
	// ErrCookie: the line after the X.224 header is not a CRLF-terminated
	// line of printable bytes, or its mstshash identifier is empty.
	ErrCookie = errors.New("rdp: malformed cookie line")
	// ErrRoutingToken: a recognised routing token (msts, tsv) is malformed.
	ErrRoutingToken = errors.New("rdp: malformed routing token")
	// ErrNegReq: the bytes after the cookie line are not a well-formed RDP_NEG_REQ.
	ErrNegReq = errors.New("rdp: malformed RDP_NEG_REQ")
	// ErrCorrelation: RDP_NEG_REQ announces RDP_CORRELATION_INFO but it is
	// missing or malformed.
	ErrCorrelation = errors.New("rdp: malformed RDP_CORRELATION_INFO")
	// ErrNegRsp: the bytes after a Connection Confirm header are not an
	// RDP_NEG_RSP or RDP_NEG_FAILURE.
	ErrNegRsp = errors.New("rdp: malformed RDP_NEG_RSP or RDP_NEG_FAILURE")
	// ErrTrailing: bytes follow the last structure inside the packet.
	ErrTrailing = errors.New("rdp: trailing bytes")
	// ErrNotUDPSyn: the datagram is not an RDP-UDP client SYN: its
	// RDPUDP_FLAG_SYN is clear (some later datagram of a flow) or its
	// RDPUDP_FLAG_ACK is set (a server's SYN+ACK).
	ErrNotUDPSyn = errors.New("rdp: not an RDP-UDP SYN datagram")
	// ErrUDPSyn: an RDP-UDP SYN breaks a MUST of its RDPUDP_FEC_HEADER or
	// RDPUDP_SYNDATA_PAYLOAD: snSourceAck not -1, a flag other than SYN,
	// SYNLOSSY, CORRELATION_ID and SYNEX, an MTU outside 1132..1232.
	ErrUDPSyn = errors.New("rdp: malformed RDP-UDP SYN")
	// ErrUDPCorrelation: the RDPUDP_CORRELATION_ID_PAYLOAD's reserved
	// bytes are not zero.
	ErrUDPCorrelation = errors.New("rdp: malformed RDPUDP_CORRELATION_ID_PAYLOAD")
	// ErrUDPSynEx: the RDPUDP_SYNDATAEX_PAYLOAD has unknown flags or
	// names an unknown protocol version.
	ErrUDPSynEx = errors.New("rdp: malformed RDPUDP_SYNDATAEX_PAYLOAD")
	// ErrUDPPadding: the SYN is not zero-padded to exactly the smaller of
	// its two MTUs.
	ErrUDPPadding = errors.New("rdp: bad RDP-UDP SYN padding")
	// ErrTimeout: the read deadline passed before the packet was complete.
	// Errors wrapping it also wrap os.ErrDeadlineExceeded.
	ErrTimeout = errors.New("rdp: timeout")
)
