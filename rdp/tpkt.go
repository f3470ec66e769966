package rdp

import (
	"encoding/binary"
	"fmt"
)

// TPKT (RFC 1006) framing: version 3, a reserved byte, a big-endian total
// length. A Connection Request or Confirm is one X.224 TPDU with a one-byte
// length indicator (at most 254), so the packets this package handles are
// MinPacketLen..MaxPacketLen bytes.
const (
	// TPKTHeaderLen is the size of the TPKT header.
	TPKTHeaderLen = 4
	// MinPacketLen is the smallest CR or CC: TPKT header + 7-byte X.224 header.
	MinPacketLen = TPKTHeaderLen + x224HeaderLen
	// MaxPacketLen is the largest CR or CC: TPKT header + length indicator
	// byte + 254 bytes it can count.
	MaxPacketLen = TPKTHeaderLen + 1 + x224MaxLI

	tpktVersion        = 0x03
	tlsRecordHandshake = 0x16
)

// PacketLength validates a TPKT header and returns the total packet length,
// header included. The first byte 0x16 (a TLS handshake record) gives
// ErrTLS; a version other than 3 or a non-zero reserved byte ErrNotTPKT; a
// length outside MinPacketLen..MaxPacketLen ErrTPKTLength. The accept path
// uses it to know when the first packet is complete.
func PacketLength(hdr [4]byte) (int, error) {
	if err := checkLeadByte(hdr[0]); err != nil {
		return 0, err
	}
	if hdr[1] != 0 {
		return 0, fmt.Errorf("tpkt reserved byte 0x%02x: %w", hdr[1], ErrNotTPKT)
	}
	n := int(binary.BigEndian.Uint16(hdr[2:4]))
	if n < MinPacketLen || n > MaxPacketLen {
		return 0, fmt.Errorf("tpkt length %d not in %d..%d: %w", n, MinPacketLen, MaxPacketLen, ErrTPKTLength)
	}
	return n, nil
}

// checkLeadByte classifies the first byte of a packet: it is enough to tell
// a TLS ClientHello or some other protocol from TPKT.
func checkLeadByte(c byte) error {
	switch c {
	case tpktVersion:
		return nil
	case tlsRecordHandshake:
		return fmt.Errorf("first byte 0x16: %w", ErrTLS)
	}
	return fmt.Errorf("tpkt version 0x%02x: %w", c, ErrNotTPKT)
}

// checkTPKT validates the TPKT header of b and that its length is len(b):
// fewer bytes give ErrShort, more ErrTPKTLength.
func checkTPKT(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("empty packet: %w", ErrShort)
	}
	if err := checkLeadByte(b[0]); err != nil {
		return err
	}
	if len(b) < TPKTHeaderLen {
		return fmt.Errorf("%d bytes, tpkt header needs %d: %w", len(b), TPKTHeaderLen, ErrShort)
	}
	n, err := PacketLength([4]byte(b))
	if err != nil {
		return err
	}
	switch {
	case len(b) < n:
		return fmt.Errorf("tpkt length %d, have %d bytes: %w", n, len(b), ErrShort)
	case len(b) > n:
		return fmt.Errorf("tpkt length %d, have %d bytes: %w", n, len(b), ErrTPKTLength)
	}
	return nil
}

// appendTPKT appends a TPKT header for a packet of n bytes.
func appendTPKT(b []byte, n int) []byte {
	b = append(b, tpktVersion, 0)
	return binary.BigEndian.AppendUint16(b, uint16(n))
}
