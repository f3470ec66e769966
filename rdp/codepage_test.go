package rdp

import (
	"testing"
	"unicode/utf8"
)

func TestDecodeCookie(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"alice", "alice"},
		{"jürgen", "jürgen"}, // valid UTF-8 is kept
		{"j\xfcrgen", "jürgen"},
		{"j\xe4rgen", "järgen"},
		{"j\xffrgen", "jÿrgen"},
		{"J\xdcRGEN", "JÜRGEN"},
		{"\x80", "€"},
		{"\x8a\x9a\x8e\x9e\x9f", "ŠšŽžŸ"},
		{"\x81\x8d\x8f\x90\x9d", "\u0081\u008d\u008f\u0090\u009d"}, // undefined in Windows-1252: C1 controls, as Windows does
		{"\xa0\xbf\xc0", "\u00a0¿À"},
		{"\xc3", "Ã"},           // a lone UTF-8 lead byte: not UTF-8, so Windows-1252
		{"\xc3\xbc", "ü"},       // UTF-8
		{"\xc3\xbc\xff", "Ã¼ÿ"}, // not UTF-8 as a whole: every byte Windows-1252
	}
	for _, tc := range tests {
		if got := DecodeCookie(tc.raw); got != tc.want {
			t.Errorf("DecodeCookie(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

// TestDecodeCookieOneToOne: every byte 0x80..0xFF alone (never UTF-8)
// decodes to its own character, so no two invalid cookies collide.
func TestDecodeCookieOneToOne(t *testing.T) {
	seen := map[string]byte{}
	for c := 0x80; c <= 0xFF; c++ {
		s := DecodeCookie(string([]byte{byte(c)}))
		if utf8.RuneCountInString(s) != 1 || !utf8.ValidString(s) {
			t.Fatalf("byte 0x%02x decodes to %q, want one character", c, s)
		}
		if o, dup := seen[s]; dup {
			t.Fatalf("bytes 0x%02x and 0x%02x both decode to %q", o, c, s)
		}
		seen[s] = byte(c)
	}
}

// TestNonUTF8CookiesAreDistinctLogins: the three Windows-1252 cookies of
// issue 18, through the parser, are three logins, and the UTF-8 spelling
// of one of them is the same user.
func TestNonUTF8CookiesAreDistinctLogins(t *testing.T) {
	want := map[string]string{"j\xfcrgen": "jürgen", "j\xe4rgen": "järgen", "j\xffrgen": "jÿrgen", "J\xc3\x9cRGEN": "jürgen"}
	names := map[string]bool{}
	for raw, name := range want {
		req, err := ParseConnectionRequest(BuildConnectionRequest(ConnRequest{Cookie: raw, HasNegReq: true, RequestedProtocols: ProtocolSSL}))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		l := NormalizeLogin(req.Cookie)
		if l.Name != name || l.Raw != raw {
			t.Errorf("cookie %q: login %+v, want Name %q and Raw as sent", raw, l, name)
		}
		names[l.Name] = true
	}
	if len(names) != 3 {
		t.Fatalf("logins %v, want 3 distinct", names)
	}
}
