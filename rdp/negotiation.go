package rdp

import (
	"encoding/binary"
	"fmt"
)

// RDP negotiation structures (MS-RDPBCGR 2.2.1.1.1 RDP_NEG_REQ, 2.2.1.1.2
// RDP_CORRELATION_INFO, 2.2.1.2.1 RDP_NEG_RSP, 2.2.1.2.2 RDP_NEG_FAILURE).
const (
	negTypeReq         = 0x01
	negTypeRsp         = 0x02
	negTypeFailure     = 0x03
	negTypeCorrelation = 0x06

	// NegLen is the size of RDP_NEG_REQ, RDP_NEG_RSP and RDP_NEG_FAILURE.
	NegLen = 8
	// CorrelationLen is the size of RDP_CORRELATION_INFO.
	CorrelationLen = 36
)

// Negotiation reply types (ConnConfirm.NegType).
const (
	// NegTypeResponse is RDP_NEG_RSP: the server selected a protocol.
	NegTypeResponse uint8 = negTypeRsp
	// NegTypeFailure is RDP_NEG_FAILURE: the server refused the requested
	// protocols; ConnConfirm.FailureCode says why.
	NegTypeFailure uint8 = negTypeFailure
)

// RDP_NEG_FAILURE codes (ConnConfirm.FailureCode, BuildNegotiationFailure).
const (
	// FailureSSLRequired: the server requires TLS (PROTOCOL_SSL).
	FailureSSLRequired uint32 = 1
	// FailureSSLNotAllowed: the server only does standard RDP security.
	FailureSSLNotAllowed uint32 = 2
	// FailureSSLCertNotOnServer: the server has no certificate for TLS.
	FailureSSLCertNotOnServer uint32 = 3
	// FailureInconsistentFlags: the request's flags make no sense together.
	FailureInconsistentFlags uint32 = 4
	// FailureHybridRequired: the server requires CredSSP (PROTOCOL_HYBRID).
	FailureHybridRequired uint32 = 5
	// FailureSSLWithUserAuthRequired: the server requires TLS with user
	// authentication.
	FailureSSLWithUserAuthRequired uint32 = 6
)

// parseNegReq parses RDP_NEG_REQ, and RDP_CORRELATION_INFO when announced,
// which must make up all of b, into req.
//
// Strictness: type 0x01 and length 8, any flags and protocols. When flags
// has NegFlagCorrelationInfo, RDP_CORRELATION_INFO must follow with type
// 0x06, flags 0 and length 36. Its contents are not judged: the id's
// SHOULD NOTs (first byte 0x00 or 0xF4, any byte 0x0D) and the reserved
// bytes' MUST be zero are the server's business, and a broker that refused
// what the server would accept would only add an outage. Without the flag
// nothing may follow RDP_NEG_REQ (ErrTrailing).
func parseNegReq(b []byte, req *ConnRequest) error {
	if len(b) < NegLen {
		return fmt.Errorf("%d bytes of RDP_NEG_REQ, want %d: %w", len(b), NegLen, ErrNegReq)
	}
	if b[0] != negTypeReq {
		return fmt.Errorf("RDP_NEG_REQ type 0x%02x, want 0x01: %w", b[0], ErrNegReq)
	}
	if l := binary.LittleEndian.Uint16(b[2:4]); l != NegLen {
		return fmt.Errorf("RDP_NEG_REQ length %d, want %d: %w", l, NegLen, ErrNegReq)
	}
	req.HasNegReq = true
	req.NegFlags = b[1]
	req.RequestedProtocols = binary.LittleEndian.Uint32(b[4:8])
	b = b[NegLen:]
	if req.NegFlags&NegFlagCorrelationInfo != 0 {
		if len(b) < CorrelationLen {
			return fmt.Errorf("%d bytes of RDP_CORRELATION_INFO, want %d: %w", len(b), CorrelationLen, ErrCorrelation)
		}
		if b[0] != negTypeCorrelation || b[1] != 0 || binary.LittleEndian.Uint16(b[2:4]) != CorrelationLen {
			return fmt.Errorf("RDP_CORRELATION_INFO header % x, want 06 00 24 00: %w", b[:4], ErrCorrelation)
		}
		req.HasCorrelation = true
		copy(req.CorrelationID[:], b[4:20])
		b = b[CorrelationLen:]
	}
	if len(b) > 0 {
		return fmt.Errorf("%d bytes after RDP_NEG_REQ: %w", len(b), ErrTrailing)
	}
	return nil
}

// appendNegReq appends RDP_NEG_REQ and, when flags has
// NegFlagCorrelationInfo, RDP_CORRELATION_INFO with zero reserved bytes.
func appendNegReq(b []byte, flags uint8, protocols uint32, id [16]byte) []byte {
	b = append(b, negTypeReq, flags, NegLen, 0)
	b = binary.LittleEndian.AppendUint32(b, protocols)
	if flags&NegFlagCorrelationInfo != 0 {
		b = append(b, negTypeCorrelation, 0, CorrelationLen, 0)
		b = append(b, id[:]...)
		b = append(b, make([]byte, 16)...)
	}
	return b
}

// parseNegReply parses the RDP_NEG_RSP or RDP_NEG_FAILURE that must make up
// all of b (at least one byte) into cc. Flags are recorded, not judged.
func parseNegReply(b []byte, cc *ConnConfirm) error {
	if len(b) < NegLen {
		return fmt.Errorf("%d bytes after the X.224 header, want %d: %w", len(b), NegLen, ErrNegRsp)
	}
	if l := binary.LittleEndian.Uint16(b[2:4]); l != NegLen {
		return fmt.Errorf("negotiation reply length %d, want %d: %w", l, NegLen, ErrNegRsp)
	}
	v := binary.LittleEndian.Uint32(b[4:8])
	switch b[0] {
	case negTypeRsp:
		cc.SelectedProtocol = v
	case negTypeFailure:
		cc.FailureCode = v
	default:
		return fmt.Errorf("negotiation reply type 0x%02x, want 0x02 or 0x03: %w", b[0], ErrNegRsp)
	}
	cc.HasNeg, cc.NegType, cc.NegFlags = true, b[0], b[1]
	if len(b) > NegLen {
		return fmt.Errorf("%d bytes after the negotiation reply: %w", len(b)-NegLen, ErrTrailing)
	}
	return nil
}
