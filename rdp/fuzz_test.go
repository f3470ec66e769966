package rdp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// wrapsSentinel reports whether err wraps one of the package's sentinels:
// no input may produce an unclassified error.
func wrapsSentinel(err error) bool {
	for _, s := range sentinelsByName {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzParseConnectionRequest: no input panics or gives an unclassified
// error, and a request that parses is rebuilt by BuildConnectionRequest to
// the same bytes (up to the ignored src-ref and correlation reserved
// bytes), which parse to the same request.
func FuzzParseConnectionRequest(f *testing.F) {
	for _, g := range loadGoldens(f) {
		f.Add(g.data)
	}
	f.Add([]byte{})
	f.Add([]byte{0x03, 0x00, 0x01, 0x03})
	for _, req := range crSeeds() {
		f.Add(BuildConnectionRequest(req))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseConnectionRequest(b)
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("unclassified error: %v", err)
			}
			if req != (ConnRequest{}) {
				t.Fatalf("non-zero request %+v with error %v", req, err)
			}
			return
		}
		built := BuildConnectionRequest(req)
		again, err := ParseConnectionRequest(built)
		if err != nil {
			t.Fatalf("rebuilt request does not parse: %v\nin    % x\nbuilt % x", err, b, built)
		}
		if again != req {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", req, again)
		}
		want := bytes.Clone(b)
		want[8], want[9] = 0, 0 // src-ref
		if req.HasCorrelation {
			clear(want[len(want)-16:]) // reserved
		}
		if !bytes.Equal(built, want) {
			t.Fatalf("rebuilt bytes differ:\nin    % x\nbuilt % x", b, built)
		}
	})
}

// crSeeds are requests the goldens lack: correlation info with and
// without a cookie, non-UTF-8 cookies, a line that is no cookie.
func crSeeds() []ConnRequest {
	id := [16]byte{0xf4, 0x0d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0xff}
	return []ConnRequest{
		{HasNegReq: true, RequestedProtocols: ProtocolHybridEx, HasCorrelation: true, CorrelationID: id},
		{Cookie: "j\xfcrgen", HasNegReq: true, RequestedProtocols: ProtocolSSL, HasCorrelation: true, CorrelationID: id},
		{Cookie: "j\xe4rgen"},
		{Cookie: `CORP\j\xffrg`, HasNegReq: true, NegFlags: NegFlagRestrictedAdmin | NegFlagCorrelationInfo},
		{Token: RoutingToken{Kind: TokenOther, Raw: "Foo: bar"}, HasNegReq: true, RequestedProtocols: ProtocolSSL},
		{Token: RoutingToken{Kind: TokenTSV, Collection: "Verkauf\xfc"}, HasNegReq: true, HasCorrelation: true, CorrelationID: id},
	}
}

// FuzzParseUDPSyn: no input panics or gives an unclassified error or a
// non-zero SYN with an error, and a SYN that parses is rebuilt by
// BuildUDPSyn to exactly its bytes (the parser leaves nothing unjudged).
func FuzzParseUDPSyn(f *testing.F) {
	for _, g := range loadGoldens(f) {
		if g.isUDP() {
			f.Add(g.data)
		}
	}
	f.Add([]byte{})
	f.Add(BuildUDPSyn(UDPSyn{UpStreamMTU: UDPMinMTU, DownStreamMTU: UDPMinMTU, HasCorrelation: true, HasSynEx: true,
		SynExFlags: UDPSynExVersionInfoValid, Version: UDPVersion3, HasCookieHash: true}))
	f.Add(BuildUDPSyn(UDPSyn{UpStreamMTU: UDPMaxMTU, DownStreamMTU: UDPMinMTU, Lossy: true, HasSynEx: true, Version: 0xffff}))
	f.Fuzz(func(t *testing.T, b []byte) {
		syn, err := ParseUDPSyn(b)
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("unclassified error: %v", err)
			}
			if syn != (UDPSyn{}) {
				t.Fatalf("non-zero SYN %+v with error %v", syn, err)
			}
			return
		}
		if built := BuildUDPSyn(syn); !bytes.Equal(built, b) {
			t.Fatalf("rebuilt bytes differ:\nin    % x\nbuilt % x", b, built)
		}
		if len(b) < UDPMinMTU || len(b) > UDPMaxMTU || syn.Flags()&UDPFlagSyn == 0 {
			t.Fatalf("accepted a %d-byte datagram with flags 0x%04x", len(b), syn.Flags())
		}
	})
}

// FuzzDecodeCookie: the decoded text is valid UTF-8 and determines the
// cookie: two different cookies decode to the same text only when one is
// valid UTF-8 and the other is that text in Windows-1252. So NormalizeLogin
// merges two cookies only when they spell names it treats as one user.
func FuzzDecodeCookie(f *testing.F) {
	for _, s := range [][2]string{{"j\xfcrgen", "j\xe4rgen"}, {"j\xffrgen", "jürgen"}, {"j\xfcrgen", "j\xc3\xbcrgen"},
		{"\x80\x81\x8d\x8f\x90\x9d\x9f", "\u20ac\u0081"}, {"alice", "ALICE"}, {"", "\xff"}, {"\xc3", "Ã"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		da, db := DecodeCookie(a), DecodeCookie(b)
		for _, c := range [][2]string{{a, da}, {b, db}} {
			if !utf8.ValidString(c[1]) {
				t.Fatalf("DecodeCookie(%q) = %q, not UTF-8", c[0], c[1])
			}
			if utf8.ValidString(c[0]) != (c[0] == c[1]) {
				t.Fatalf("DecodeCookie(%q) = %q: valid UTF-8 must be kept, and only it", c[0], c[1])
			}
			if enc, ok := encode1252(c[1]); !utf8.ValidString(c[0]) && (!ok || enc != c[0]) {
				t.Fatalf("DecodeCookie(%q) = %q does not encode back: %q, %v", c[0], c[1], enc, ok)
			}
		}
		if a != b && da == db {
			enc, _ := encode1252(da)
			if utf8.ValidString(a) == utf8.ValidString(b) || (enc != a && enc != b) {
				t.Fatalf("different cookies %q and %q both decode to %q", a, b, da)
			}
		}
		// The bug this replaces: invalid bytes became U+FFFD, merging logins.
		if l := NormalizeLogin(a); strings.ContainsRune(l.Name+l.Domain+l.Realm, utf8.RuneError) &&
			!strings.ContainsRune(da, utf8.RuneError) {
			t.Fatalf("NormalizeLogin(%q) = %+v: U+FFFD not in the cookie", a, l)
		}
	})
}

// encode1252 is the inverse of DecodeCookie's Windows-1252 table: ok is
// false for a rune the code page lacks.
func encode1252(s string) (string, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		switch i := slices.Index(cp1252High[:], r); {
		case r < 0x80 || (r >= 0xA0 && r <= 0xFF):
			out = append(out, byte(r))
		case i >= 0:
			out = append(out, byte(0x80+i))
		default:
			return "", false
		}
	}
	return string(out), true
}

// FuzzParseConnectionConfirm: no panic, classified errors, and Marshal
// inverts the parser up to the ignored X.224 references.
func FuzzParseConnectionConfirm(f *testing.F) {
	for _, g := range loadGoldens(f) {
		f.Add(g.data)
	}
	f.Add(BuildConnectionConfirm(ProtocolHybrid))
	f.Add(BuildNegotiationFailure(FailureSSLRequired))
	f.Fuzz(func(t *testing.T, b []byte) {
		cc, err := ParseConnectionConfirm(b)
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		m := cc.Marshal()
		if again, err := ParseConnectionConfirm(m); err != nil || again != cc {
			t.Fatalf("Marshal round trip: %+v, %v; want %+v", again, err, cc)
		}
		if len(m) != len(b) || !bytes.Equal(m[:6], b[:6]) || !bytes.Equal(m[10:], b[10:]) {
			t.Fatalf("Marshal = % x, want % x up to the references", m, b)
		}
	})
}

// FuzzNormalizeLogin: no panic; the normalised parts are lower case; a
// login matches its own name; a login that is not a possible truncation
// matches nothing but its name.
func FuzzNormalizeLogin(f *testing.F) {
	for _, s := range []string{"alice", "ALICE", `CORP\alic`, `CORP\Alice`, "alice@CORP.example", " bob ",
		"", `\`, "@", `a\b@c@d`, "JÜRGEN", "\xff\xfe", "İstanbul", "ǅ", "ẞ"} {
		f.Add(s, "alice")
	}
	f.Fuzz(func(t *testing.T, raw, other string) {
		l := NormalizeLogin(raw)
		for what, v := range map[string]string{"Name": l.Name, "Domain": l.Domain, "Realm": l.Realm} {
			if v != strings.ToLower(v) {
				t.Errorf("%s %q is not lower case", what, v)
			}
		}
		if l.Name != "" && !l.Matches(l.Name) {
			t.Errorf("%+v does not match its own name", l)
		}
		if l.IsZero() != (l.Name == "") || l.Key() != l.Name {
			t.Errorf("IsZero/Key inconsistent: %+v", l)
		}
		if strings.TrimSpace(raw) == "" && l != (Login{}) {
			t.Errorf("blank %q gave %+v", raw, l)
		}
		if !l.MaybeTruncated && l.Matches(other) != (l.Name != "" && other == l.Name) {
			t.Errorf("%+v.Matches(%q) = %v", l, other, l.Matches(other))
		}
		if l.MaybeTruncated && l.Name != "" && !l.Matches(l.Name+other) {
			t.Errorf("truncated %+v does not match %q", l, l.Name+other)
		}
	})
}

// FuzzParseMSTSToken: a token that parses is an IPv4 address that formats
// to a token parsing to the same address; every IPv4 address and port
// formats to a token that parses back.
func FuzzParseMSTSToken(f *testing.F) {
	f.Add("3640205228.15629.0000", uint32(0), uint16(0))
	f.Add("0.0.0", uint32(3640205228), uint16(15629))
	f.Add("4294967295.65535.9999999999", uint32(0xffffffff), uint16(0xffff))
	f.Add("1.2.3.4", uint32(1), uint16(1))
	f.Fuzz(func(t *testing.T, s string, a uint32, p uint16) {
		ap, err := ParseMSTSToken(s)
		if err == nil {
			if !ap.Addr().Is4() {
				t.Fatalf("ParseMSTSToken(%q) = %v, not IPv4", s, ap)
			}
			if again, err := ParseMSTSToken(FormatMSTSToken(ap)); err != nil || again != ap {
				t.Fatalf("round trip of %q: %v, %v; want %v", s, again, err, ap)
			}
		} else if !errors.Is(err, ErrRoutingToken) {
			t.Fatalf("ParseMSTSToken(%q): unclassified error %v", s, err)
		}
		var a4 [4]byte
		binary.BigEndian.PutUint32(a4[:], a)
		want := netip.AddrPortFrom(netip.AddrFrom4(a4), p)
		tok := FormatMSTSToken(want)
		if got, err := ParseMSTSToken(tok); err != nil || got != want {
			t.Fatalf("ParseMSTSToken(FormatMSTSToken(%v) = %q) = %v, %v", want, tok, got, err)
		}
	})
}

// chunkReader returns its data in reads of the sizes in chunks (cycled;
// 0 counts as 1), then io.EOF.
type chunkReader struct {
	data   []byte
	chunks []byte
	i      int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.chunks) > 0 {
		n = max(int(r.chunks[r.i%len(r.chunks)]), 1)
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// readFirstPacket is what ReadConnectionRequest reads, from any reader:
// the bytes read and the packet's length; on error, the bytes read so far.
func readFirstPacket(r io.Reader) (got []byte, n int, err error) {
	p := firstPacket{buf: make([]byte, FirstReadLen), need: TPKTHeaderLen}
	err = p.readFrom(r)
	return p.buf[:p.have], p.need, err
}

// FuzzReadFirstPacket: however the bytes are split into reads, the first
// read returns a prefix of the input of at most FirstReadLen bytes; on
// success that prefix starts with a whole packet of the length its header
// gives, on failure the error is classified.
func FuzzReadFirstPacket(f *testing.F) {
	f.Add(aliceCRForFuzz(), []byte{1, 3, 200})
	f.Add(append(aliceCRForFuzz(), "more"...), []byte{255})
	f.Add([]byte{0x16, 3, 1, 2, 0}, []byte{2})
	f.Add([]byte{3, 0, 0xff, 0xff}, []byte{1})
	f.Fuzz(func(t *testing.T, data, chunks []byte) {
		got, n, err := readFirstPacket(&chunkReader{data: data, chunks: chunks})
		if !bytes.HasPrefix(data, got) || len(got) > FirstReadLen {
			t.Fatalf("got %d bytes, not a prefix of the input or more than %d", len(got), FirstReadLen)
		}
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		want, lerr := PacketLength([TPKTHeaderLen]byte(got[:TPKTHeaderLen]))
		if lerr != nil || n != want || n > len(got) {
			t.Fatalf("n %d, header says %d (%v), got %d bytes", n, want, lerr, len(got))
		}
	})
}

func aliceCRForFuzz() []byte {
	return BuildConnectionRequest(ConnRequest{Cookie: "alice", Token: RoutingToken{Kind: TokenCookie, Raw: "Cookie: mstshash=alice"}})
}
