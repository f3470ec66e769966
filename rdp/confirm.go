package rdp

import (
	"encoding/binary"
	"fmt"
)

// ConnConfirm is a parsed X.224 Connection Confirm (MS-RDPBCGR 2.2.1.2), the
// server's answer to a Connection Request.
type ConnConfirm struct {
	// HasNeg reports whether an RDP_NEG_RSP or RDP_NEG_FAILURE followed; a
	// server answers a request without RDP_NEG_REQ with a bare 11-byte CC.
	HasNeg bool
	// NegType is NegTypeResponse (0x02) or NegTypeFailure (0x03).
	NegType uint8
	// NegFlags are the flags of the reply (RDP_NEG_RSP: extended client
	// data supported, ...; 0 in a failure).
	NegFlags uint8
	// SelectedProtocol is the protocol an RDP_NEG_RSP selected (Protocol*).
	SelectedProtocol uint32
	// FailureCode is the code of an RDP_NEG_FAILURE (Failure*).
	FailureCode uint32
}

// ccSrcRef is the X.224 source reference of the confirms this package
// builds (the value of the MS-RDPBCGR 4.1.2 example, and what xrdp sends).
// Clients ignore it.
const ccSrcRef = 0x1234

// ParseConnectionConfirm parses one complete server Connection Confirm:
// TPKT header (checked as in ParseConnectionRequest), X.224 header with
// code 0xD0 and class 0 (both references ignored), then nothing or exactly
// one 8-byte RDP_NEG_RSP or RDP_NEG_FAILURE. Errors wrap ErrShort, ErrTLS,
// ErrNotTPKT, ErrTPKTLength, ErrX224Length, ErrNotCC, ErrClass, ErrNegRsp
// or ErrTrailing. It never panics and does not retain b.
func ParseConnectionConfirm(b []byte) (ConnConfirm, error) {
	cc, err := parseConfirm(b)
	if err != nil {
		return ConnConfirm{}, fmt.Errorf("rdp: parse connection confirm: %w", err)
	}
	return cc, nil
}

func parseConfirm(b []byte) (ConnConfirm, error) {
	if err := checkTPKT(b); err != nil {
		return ConnConfirm{}, err
	}
	if err := checkX224(b, x224CodeCC); err != nil {
		return ConnConfirm{}, err
	}
	var cc ConnConfirm
	if rest := b[bodyOffset:]; len(rest) > 0 {
		if err := parseNegReply(rest, &cc); err != nil {
			return ConnConfirm{}, err
		}
	}
	return cc, nil
}

// Marshal encodes cc as a Connection Confirm, the inverse of
// ParseConnectionConfirm: 11 bytes when !HasNeg, else 19 with the reply of
// type NegType carrying SelectedProtocol (NegTypeResponse) or FailureCode
// (any other type, so an invalid NegType makes an unparseable packet).
func (cc ConnConfirm) Marshal() []byte {
	n := bodyOffset
	if cc.HasNeg {
		n += NegLen
	}
	b := appendX224(make([]byte, 0, n), n, x224CodeCC, ccSrcRef)
	if !cc.HasNeg {
		return b
	}
	v := cc.FailureCode
	if cc.NegType == NegTypeResponse {
		v = cc.SelectedProtocol
	}
	b = append(b, cc.NegType, cc.NegFlags, NegLen, 0)
	return binary.LittleEndian.AppendUint32(b, v)
}

// BuildConnectionConfirm returns the 19-byte Connection Confirm with an
// RDP_NEG_RSP (flags 0) selecting the given protocol (Protocol*).
func BuildConnectionConfirm(selected uint32) []byte {
	return ConnConfirm{HasNeg: true, NegType: NegTypeResponse, SelectedProtocol: selected}.Marshal()
}

// BuildNegotiationFailure returns the 19-byte Connection Confirm with an
// RDP_NEG_FAILURE carrying code (Failure*).
func BuildNegotiationFailure(code uint32) []byte {
	return ConnConfirm{HasNeg: true, NegType: NegTypeFailure, FailureCode: code}.Marshal()
}
