package rdp

import "fmt"

// X.224 (ISO 8073) class 0 connection TPDU header, right after the TPKT
// header: length indicator (LI, the header size minus itself plus whatever
// follows in the packet), code, dst-ref (2), src-ref (2), class/options.
const (
	x224HeaderLen = 7
	x224MaxLI     = 254  // 255 is reserved for an extension; one byte anyway
	x224CodeCR    = 0xE0 // Connection Request, CDT 0
	x224CodeCC    = 0xD0 // Connection Confirm, CDT 0

	// bodyOffset is where the optional parts start in a CR or CC packet.
	bodyOffset = TPKTHeaderLen + x224HeaderLen
)

// checkX224 validates the X.224 header of a packet that checkTPKT accepted
// (so len(b) is MinPacketLen..MaxPacketLen): LI == len(b)-5, TPDU code ==
// want (upper nibble the type, lower nibble CDT 0), class/options 0. In a CR
// the dst-ref must be 0 and the src-ref is free; in a CC both references are
// ignored (the dst-ref echoes whatever src-ref the client chose).
func checkX224(b []byte, want byte) error {
	if li := int(b[4]); li != len(b)-5 {
		return fmt.Errorf("x224 length indicator %d, want %d: %w", li, len(b)-5, ErrX224Length)
	}
	notThis := ErrNotCR
	if want == x224CodeCC {
		notThis = ErrNotCC
	}
	if b[5] != want {
		return fmt.Errorf("x224 code 0x%02x, want 0x%02x: %w", b[5], want, notThis)
	}
	if want == x224CodeCR && (b[6] != 0 || b[7] != 0) {
		return fmt.Errorf("x224 dst-ref 0x%02x%02x, want 0: %w", b[6], b[7], ErrNotCR)
	}
	if b[10] != 0 {
		return fmt.Errorf("x224 class/options 0x%02x (class %d), want 0: %w", b[10], b[10]>>4, ErrClass)
	}
	return nil
}

// appendX224 appends the TPKT and X.224 headers of a packet of n bytes
// (n-5 must fit the length indicator; 0xFF, an invalid LI, is written
// otherwise so that the result is rejected rather than misread).
func appendX224(b []byte, n int, code byte, srcRef uint16) []byte {
	li := byte(0xFF)
	if n-5 <= x224MaxLI {
		li = byte(n - 5)
	}
	b = appendTPKT(b, n)
	return append(b, li, code, 0, 0, byte(srcRef>>8), byte(srcRef), 0)
}
