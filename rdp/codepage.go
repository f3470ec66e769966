package rdp

import (
	"strings"
	"unicode/utf8"
)

// Cookies are bytes. mstsc writes the mstshash identifier in the ANSI code
// page of the client (Windows-1252 on Western European systems), FreeRDP
// and newer clients write UTF-8, and neither says which. DecodeCookie
// decides the way that keeps distinct users distinct: a string that is
// valid UTF-8 is taken as UTF-8, anything else as Windows-1252.

// cp1252High maps the bytes 0x80..0x9F of Windows-1252 to Unicode. The
// five bytes the code page leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D)
// map to the C1 control of the same value, as Windows' MultiByteToWideChar
// does: every byte then has its own character, so the decoding is
// one-to-one and never rejects a client. Bytes 0xA0..0xFF are U+00A0..U+00FF
// (Latin-1), bytes below 0x80 are ASCII.
var cp1252High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, // 80..87
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F, // 88..8F
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, // 90..97
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178, // 98..9F
}

// DecodeCookie returns the text of a cookie or routing-token value sent as
// raw bytes: raw itself when it is valid UTF-8, else raw decoded as
// Windows-1252 (see cp1252High). The result is always valid UTF-8.
//
// Distinct byte strings give distinct texts, except that a valid UTF-8
// string and its Windows-1252 spelling give the same text (the same name
// typed on two clients): "j\xfcrgen" (Windows-1252) and "j\xc3\xbcrgen"
// (UTF-8) are both "jürgen", while "j\xfcrgen", "j\xe4rgen" and "j\xffrgen"
// are "jürgen", "järgen" and "jÿrgen".
func DecodeCookie(raw string) string {
	if utf8.ValidString(raw) {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw) + len(raw)/2)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c < 0x80:
			b.WriteByte(c)
		case c < 0xA0:
			b.WriteRune(cp1252High[c-0x80])
		default:
			b.WriteRune(rune(c))
		}
	}
	return b.String()
}
