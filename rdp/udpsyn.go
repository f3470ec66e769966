package rdp

import (
	"encoding/binary"
	"fmt"
)

// RDP-UDP (MS-RDPEUDP 2.2.2): the SYN datagram a client sends to open the
// UDP transport, in network byte order:
//
//	RDPUDP_FEC_HEADER (8)             snSourceAck, uReceiveWindowSize, uFlags
//	RDPUDP_SYNDATA_PAYLOAD (8)        snInitialSequenceNumber, uUpStreamMtu, uDownStreamMtu
//	RDPUDP_CORRELATION_ID_PAYLOAD (32) uCorrelationId, uReserved       if RDPUDP_FLAG_CORRELATION_ID
//	RDPUDP_SYNDATAEX_PAYLOAD (4 or 36) uSynExFlags, uUdpVer[, cookieHash] if RDPUDP_FLAG_SYNEX
//	zero padding up to min(uUpStreamMtu, uDownStreamMtu)               (3.1.5.1.1 step 6)
const (
	// UDPFlagSyn is RDPUDP_FLAG_SYN.
	UDPFlagSyn uint16 = 0x0001
	// UDPFlagAck is RDPUDP_FLAG_ACK (set in the server's SYN+ACK).
	UDPFlagAck uint16 = 0x0004
	// UDPFlagSynLossy is RDPUDP_FLAG_SYNLOSSY: RDP-UDP-L, no retransmits.
	UDPFlagSynLossy uint16 = 0x0200
	// UDPFlagCorrelationID is RDPUDP_FLAG_CORRELATION_ID.
	UDPFlagCorrelationID uint16 = 0x0800
	// UDPFlagSynEx is RDPUDP_FLAG_SYNEX.
	UDPFlagSynEx uint16 = 0x1000

	// UDPSynExVersionInfoValid is RDPUDP_VERSION_INFO_VALID (uSynExFlags).
	UDPSynExVersionInfoValid uint16 = 0x0001

	// UDPVersion1, UDPVersion2 and UDPVersion3 are RDPUDP_PROTOCOL_VERSION_1,
	// _2 and _3 (uUdpVer); version 3 is MS-RDPEUDP2 and carries a cookieHash.
	UDPVersion1 uint16 = 0x0001
	UDPVersion2 uint16 = 0x0002
	UDPVersion3 uint16 = 0x0101

	// UDPMinMTU and UDPMaxMTU bound uUpStreamMtu and uDownStreamMtu.
	UDPMinMTU = 1132
	UDPMaxMTU = 1232

	udpSynFlags        = UDPFlagSyn | UDPFlagSynLossy | UDPFlagCorrelationID | UDPFlagSynEx
	udpFECHeaderLen    = 8
	udpSynDataLen      = 8
	udpCorrelationLen  = 32
	udpSynExLen        = 4
	udpCookieHashLen   = 32
	udpSourceAckOfSyn  = 0xFFFFFFFF
	udpSynFixedHeaders = udpFECHeaderLen + udpSynDataLen
)

// UDPSyn is a parsed RDP-UDP client SYN datagram.
type UDPSyn struct {
	// ReceiveWindowSize is uReceiveWindowSize, in packets.
	ReceiveWindowSize uint16
	// Lossy is RDPUDP_FLAG_SYNLOSSY (RDP-UDP-L rather than RDP-UDP-R).
	Lossy bool
	// InitialSequenceNumber is snInitialSequenceNumber.
	InitialSequenceNumber uint32
	// UpStreamMTU and DownStreamMTU are uUpStreamMtu and uDownStreamMtu,
	// UDPMinMTU..UDPMaxMTU.
	UpStreamMTU, DownStreamMTU uint16
	// HasCorrelation reports RDPUDP_FLAG_CORRELATION_ID and its payload.
	HasCorrelation bool
	// CorrelationID is uCorrelationId as sent; it SHOULD equal the
	// ConnRequest.CorrelationID of the TCP connection it belongs to.
	CorrelationID [16]byte
	// HasSynEx reports RDPUDP_FLAG_SYNEX and its payload.
	HasSynEx bool
	// SynExFlags is uSynExFlags (0 or UDPSynExVersionInfoValid).
	SynExFlags uint16
	// Version is uUdpVer: with UDPSynExVersionInfoValid one of UDPVersion1,
	// UDPVersion2, UDPVersion3; without it, any value but UDPVersion3, and
	// meaningless.
	Version uint16
	// HasCookieHash reports a cookieHash: present exactly when Version is
	// UDPVersion3.
	HasCookieHash bool
	// CookieHash is the SHA-256 of the Initiate Multitransport Request's
	// securityCookie (MS-RDPEUDP 2.2.2.9), as sent.
	CookieHash [32]byte
}

// Flags returns the uFlags the SYN was sent with.
func (s UDPSyn) Flags() uint16 {
	f := UDPFlagSyn
	if s.Lossy {
		f |= UDPFlagSynLossy
	}
	if s.HasCorrelation {
		f |= UDPFlagCorrelationID
	}
	if s.HasSynEx {
		f |= UDPFlagSynEx
	}
	return f
}

// ParseUDPSyn parses one RDP-UDP client SYN datagram (MS-RDPEUDP 3.1.5.1.1).
// b must be the whole datagram. The function is pure: it never panics,
// never reads past b and does not retain b.
//
// Strictness, each a MUST of the spec:
//   - at least the 8-byte RDPUDP_FEC_HEADER (ErrShort); RDPUDP_FLAG_SYN set
//     and RDPUDP_FLAG_ACK clear (ErrNotUDPSyn: later datagrams and the
//     server's SYN+ACK are not flow starts);
//   - snSourceAck -1, no flag but SYN, SYNLOSSY, CORRELATION_ID and SYNEX,
//     both MTUs 1132..1232 (ErrUDPSyn);
//   - every payload the flags announce present (ErrShort); the correlation
//     payload's 16 reserved bytes zero (ErrUDPCorrelation; the id's
//     SHOULD NOTs are not judged); SYNDATAEX flags 0 or
//     RDPUDP_VERSION_INFO_VALID, a valid version one of 1, 2, 0x0101, and
//     0x0101 never without the flag, since it decides whether the 32-byte
//     cookieHash is present (ErrUDPSynEx);
//   - zero padding up to exactly min(uUpStreamMtu, uDownStreamMtu) bytes
//     (ErrUDPPadding).
//
// Errors wrap one of the sentinels above; test them with errors.Is.
func ParseUDPSyn(b []byte) (UDPSyn, error) {
	s, err := parseUDPSyn(b)
	if err != nil {
		return UDPSyn{}, fmt.Errorf("rdp: parse udp syn: %w", err)
	}
	return s, nil
}

func parseUDPSyn(b []byte) (UDPSyn, error) {
	if len(b) < udpFECHeaderLen {
		return UDPSyn{}, fmt.Errorf("%d bytes, RDPUDP_FEC_HEADER needs %d: %w", len(b), udpFECHeaderLen, ErrShort)
	}
	ack := binary.BigEndian.Uint32(b[0:4])
	flags := binary.BigEndian.Uint16(b[6:8])
	if flags&UDPFlagSyn == 0 || flags&UDPFlagAck != 0 {
		return UDPSyn{}, fmt.Errorf("uFlags 0x%04x: %w", flags, ErrNotUDPSyn)
	}
	if ack != udpSourceAckOfSyn {
		return UDPSyn{}, fmt.Errorf("snSourceAck 0x%08x, want 0xffffffff: %w", ack, ErrUDPSyn)
	}
	if extra := flags &^ udpSynFlags; extra != 0 {
		return UDPSyn{}, fmt.Errorf("uFlags 0x%04x: flags 0x%04x not allowed in a SYN: %w", flags, extra, ErrUDPSyn)
	}
	if len(b) < udpSynFixedHeaders {
		return UDPSyn{}, fmt.Errorf("%d bytes, RDPUDP_SYNDATA_PAYLOAD needs %d: %w", len(b), udpSynFixedHeaders, ErrShort)
	}
	s := UDPSyn{
		ReceiveWindowSize:     binary.BigEndian.Uint16(b[4:6]),
		Lossy:                 flags&UDPFlagSynLossy != 0,
		InitialSequenceNumber: binary.BigEndian.Uint32(b[8:12]),
		UpStreamMTU:           binary.BigEndian.Uint16(b[12:14]),
		DownStreamMTU:         binary.BigEndian.Uint16(b[14:16]),
	}
	for _, mtu := range [2]uint16{s.UpStreamMTU, s.DownStreamMTU} {
		if mtu < UDPMinMTU || mtu > UDPMaxMTU {
			return UDPSyn{}, fmt.Errorf("MTU %d not in %d..%d: %w", mtu, UDPMinMTU, UDPMaxMTU, ErrUDPSyn)
		}
	}
	rest := b[udpSynFixedHeaders:]
	var err error
	if flags&UDPFlagCorrelationID != 0 {
		if rest, err = parseUDPCorrelation(rest, &s); err != nil {
			return UDPSyn{}, err
		}
	}
	if flags&UDPFlagSynEx != 0 {
		if rest, err = parseUDPSynEx(rest, &s); err != nil {
			return UDPSyn{}, err
		}
	}
	if err := checkUDPPadding(len(b), rest, s.padTo()); err != nil {
		return UDPSyn{}, err
	}
	return s, nil
}

// padTo is the size the SYN must be padded to: the smaller MTU.
func (s *UDPSyn) padTo() int {
	return int(min(s.UpStreamMTU, s.DownStreamMTU))
}

func parseUDPCorrelation(b []byte, s *UDPSyn) ([]byte, error) {
	if len(b) < udpCorrelationLen {
		return nil, fmt.Errorf("%d bytes of RDPUDP_CORRELATION_ID_PAYLOAD, want %d: %w", len(b), udpCorrelationLen, ErrShort)
	}
	for i, c := range b[16:udpCorrelationLen] {
		if c != 0 {
			return nil, fmt.Errorf("uReserved byte %d is 0x%02x, want 0: %w", i, c, ErrUDPCorrelation)
		}
	}
	s.HasCorrelation = true
	copy(s.CorrelationID[:], b[:16])
	return b[udpCorrelationLen:], nil
}

func parseUDPSynEx(b []byte, s *UDPSyn) ([]byte, error) {
	if len(b) < udpSynExLen {
		return nil, fmt.Errorf("%d bytes of RDPUDP_SYNDATAEX_PAYLOAD, want %d: %w", len(b), udpSynExLen, ErrShort)
	}
	flags, ver := binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4])
	valid := flags&UDPSynExVersionInfoValid != 0
	switch {
	case flags&^UDPSynExVersionInfoValid != 0:
		return nil, fmt.Errorf("uSynExFlags 0x%04x: %w", flags, ErrUDPSynEx)
	case valid && ver != UDPVersion1 && ver != UDPVersion2 && ver != UDPVersion3:
		return nil, fmt.Errorf("uUdpVer 0x%04x is no RDP-UDP version: %w", ver, ErrUDPSynEx)
	case !valid && ver == UDPVersion3:
		return nil, fmt.Errorf("uUdpVer 0x0101 without RDPUDP_VERSION_INFO_VALID: %w", ErrUDPSynEx)
	}
	s.HasSynEx, s.SynExFlags, s.Version = true, flags, ver
	b = b[udpSynExLen:]
	if ver != UDPVersion3 {
		return b, nil
	}
	if len(b) < udpCookieHashLen {
		return nil, fmt.Errorf("%d bytes of cookieHash, want %d: %w", len(b), udpCookieHashLen, ErrShort)
	}
	s.HasCookieHash = true
	copy(s.CookieHash[:], b[:udpCookieHashLen])
	return b[udpCookieHashLen:], nil
}

// checkUDPPadding checks that the datagram of n bytes is padTo bytes long
// and that pad, its bytes after the last payload, are zero.
func checkUDPPadding(n int, pad []byte, padTo int) error {
	if n != padTo {
		return fmt.Errorf("datagram of %d bytes, want the smaller MTU %d: %w", n, padTo, ErrUDPPadding)
	}
	for i, c := range pad {
		if c != 0 {
			return fmt.Errorf("padding byte %d is 0x%02x, want 0: %w", n-len(pad)+i, c, ErrUDPPadding)
		}
	}
	return nil
}

// BuildUDPSyn encodes s as a client SYN datagram, the inverse of
// ParseUDPSyn: for every s the parser returns, ParseUDPSyn(BuildUDPSyn(s))
// == s and the bytes are the parsed ones. snSourceAck is -1, uFlags is
// s.Flags(), the correlation payload's reserved bytes are zero, the
// cookieHash is written when HasSynEx and HasCookieHash, and the datagram
// is zero-padded to the smaller MTU. Fields are not validated: an MTU out
// of range or a Version inconsistent with HasCookieHash is encoded anyway
// and ParseUDPSyn rejects the result.
func BuildUDPSyn(s UDPSyn) []byte {
	b := make([]byte, 0, max(s.padTo(), udpSynFixedHeaders+udpCorrelationLen+udpSynExLen+udpCookieHashLen))
	b = binary.BigEndian.AppendUint32(b, udpSourceAckOfSyn)
	b = binary.BigEndian.AppendUint16(b, s.ReceiveWindowSize)
	b = binary.BigEndian.AppendUint16(b, s.Flags())
	b = binary.BigEndian.AppendUint32(b, s.InitialSequenceNumber)
	b = binary.BigEndian.AppendUint16(b, s.UpStreamMTU)
	b = binary.BigEndian.AppendUint16(b, s.DownStreamMTU)
	if s.HasCorrelation {
		b = append(b, s.CorrelationID[:]...)
		b = append(b, make([]byte, 16)...)
	}
	if s.HasSynEx {
		b = binary.BigEndian.AppendUint16(b, s.SynExFlags)
		b = binary.BigEndian.AppendUint16(b, s.Version)
		if s.HasCookieHash {
			b = append(b, s.CookieHash[:]...)
		}
	}
	if n := s.padTo(); len(b) < n {
		b = append(b, make([]byte, n-len(b))...)
	}
	return b
}
