package rdp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
)

// Prefixes of the lines ParseConnectionRequest recognises. They are compared
// ignoring ASCII case (HAProxy's rdp_cookie matches "Cookie:" the same way).
const (
	// CookiePrefix starts an mstshash cookie line.
	CookiePrefix = "Cookie: mstshash="
	// MSTSPrefix starts an RD Connection Broker redirection token line.
	MSTSPrefix = "Cookie: msts="
	// TSVPrefix starts an RDS collection routing token line (the .rdp
	// file's loadbalanceinfo).
	TSVPrefix = "tsv://MS Terminal Services Plugin.1."
)

// splitLine returns the line at the start of b, without its CRLF, and the
// bytes after the CRLF. The line must be non-empty and printable: no byte
// below 0x20 and no DEL (0x7F). Bytes 0x80..0xFF are accepted, for
// non-ASCII user and collection names.
func splitLine(b []byte) (line, after []byte, err error) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return nil, nil, fmt.Errorf("line of %d bytes not terminated by CRLF: %w", len(b), ErrCookie)
	}
	if i == 0 {
		return nil, nil, fmt.Errorf("empty line: %w", ErrCookie)
	}
	line = b[:i]
	for j, c := range line {
		if c < 0x20 || c == 0x7F {
			return nil, nil, fmt.Errorf("control byte 0x%02x at line offset %d: %w", c, j, ErrCookie)
		}
	}
	return line, b[i+2:], nil
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case
// (prefix is ASCII).
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != lowerASCII(prefix[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// parseLine classifies a cookie or routing-token line (CRLF removed):
// an mstshash cookie (its identifier must not be empty), an msts token (its
// address must parse), a tsv token (its collection must not be empty), or
// any other token.
func parseLine(b []byte) (cookie string, tok RoutingToken, err error) {
	line := string(b)
	tok.Raw = line
	switch {
	case hasPrefixFold(line, CookiePrefix):
		cookie = line[len(CookiePrefix):]
		if cookie == "" {
			return "", RoutingToken{}, fmt.Errorf("empty mstshash identifier: %w", ErrCookie)
		}
		tok.Kind = TokenCookie
	case hasPrefixFold(line, MSTSPrefix):
		ap, err := ParseMSTSToken(line[len(MSTSPrefix):])
		if err != nil {
			return "", RoutingToken{}, err
		}
		tok.Kind, tok.Addr = TokenMSTS, ap
	case hasPrefixFold(line, TSVPrefix):
		tok.Collection = line[len(TSVPrefix):]
		if tok.Collection == "" {
			return "", RoutingToken{}, fmt.Errorf("tsv token without a collection: %w", ErrRoutingToken)
		}
		tok.Kind = TokenTSV
	default:
		tok.Kind = TokenOther
	}
	return cookie, tok, nil
}

// FormatMSTSToken returns the "<A>.<P>.0000" value of an msts routing token
// (the line is MSTSPrefix + value) naming an IPv4 address and port: A is the
// address bytes in network order read as a little-endian uint32, P the port
// with its two bytes swapped, both in decimal. 172.31.249.216:3389 gives
// "3640205228.15629.0000". An IPv4-mapped IPv6 address is unmapped. The
// format has no room for IPv6: for any other address the result is "", which
// ParseMSTSToken rejects.
func FormatMSTSToken(ap netip.AddrPort) string {
	addr := ap.Addr().Unmap()
	if !addr.Is4() {
		return ""
	}
	a4 := addr.As4()
	b := make([]byte, 0, len("4294967295.65535.0000"))
	b = strconv.AppendUint(b, uint64(binary.LittleEndian.Uint32(a4[:])), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(bits.ReverseBytes16(ap.Port())), 10)
	b = append(b, ".0000"...)
	return string(b)
}

// ParseMSTSToken parses the "<A>.<P>.<reserved>" value of an msts routing
// token (see FormatMSTSToken), e.g. "3640205228.15629.0000" is
// 172.31.249.216:3389. A (< 2^32), P (< 2^16) and reserved (any value; "0000"
// in practice) are unsigned decimal numbers of 1 to 10, 5 and 10 digits,
// leading zeros allowed, nothing else (no sign, no spaces). Address and port
// are not otherwise checked: the token is a claim by the client, to be
// honoured only when it names a configured server. Errors wrap
// ErrRoutingToken.
func ParseMSTSToken(s string) (netip.AddrPort, error) {
	a, rest, _ := strings.Cut(s, ".")
	p, reserved, ok := strings.Cut(rest, ".")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("msts token %q: want <addr>.<port>.<reserved>: %w", s, ErrRoutingToken)
	}
	av, okA := decimal(a, 10, 32)
	pv, okP := decimal(p, 5, 16)
	_, okR := decimal(reserved, 10, 64)
	if !okA || !okP || !okR {
		return netip.AddrPort{}, fmt.Errorf("msts token %q: bad number: %w", s, ErrRoutingToken)
	}
	var a4 [4]byte
	binary.LittleEndian.PutUint32(a4[:], uint32(av))
	return netip.AddrPortFrom(netip.AddrFrom4(a4), bits.ReverseBytes16(uint16(pv))), nil
}

// decimal parses 1..maxDigits ASCII digits as an unsigned number of bitSize bits.
func decimal(s string, maxDigits, bitSize int) (uint64, bool) {
	if s == "" || len(s) > maxDigits {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, bitSize)
	return v, err == nil
}
