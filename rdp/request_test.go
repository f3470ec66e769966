package rdp

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// cr builds a Connection Request packet around body (what follows the X.224
// header), with correct TPKT and X.224 lengths.
func cr(body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	n := bodyOffset + len(b)
	return append(appendX224(nil, n, x224CodeCR, 0), b...)
}

func line(s string) []byte { return []byte(s + "\r\n") }

func neg(flags byte, protocols byte) []byte {
	return []byte{0x01, flags, 0x08, 0x00, protocols, 0, 0, 0}
}

func corrInfo(id byte, reserved byte) []byte {
	b := []byte{0x06, 0x00, 0x24, 0x00}
	b = append(b, bytes.Repeat([]byte{id}, 16)...)
	return append(b, bytes.Repeat([]byte{reserved}, 16)...)
}

func TestParseConnectionRequest(t *testing.T) {
	alice := cookieReq("alice", ProtocolSSL|ProtocolHybrid)
	tests := []struct {
		name    string
		in      []byte
		want    ConnRequest
		wantErr error
	}{
		{name: "nil input", in: nil, wantErr: ErrShort},
		{name: "single TLS byte", in: []byte{0x16}, wantErr: ErrTLS},
		{name: "single TPKT byte", in: []byte{0x03}, wantErr: ErrShort},
		{name: "TPKT header only", in: []byte{0x03, 0x00, 0x00, 0x2c}, wantErr: ErrShort},
		{name: "one byte short", in: cr(line("Cookie: mstshash=alice"), neg(0, 3))[:42], wantErr: ErrShort},
		{name: "zero byte", in: []byte{0x00, 0x00, 0x00, 0x0b}, wantErr: ErrNotTPKT},
		{name: "src-ref is ignored", in: func() []byte {
			b := cr(line("Cookie: mstshash=alice"), neg(0, 3))
			b[8], b[9] = 0xbe, 0xef
			return b
		}(), want: alice},
		{name: "lower-case prefix", in: cr(line("cookie: mstshash=alice"), neg(0, 3)),
			want: ConnRequest{Cookie: "alice", Token: RoutingToken{Kind: TokenCookie, Raw: "cookie: mstshash=alice"}, HasNegReq: true, RequestedProtocols: 3}},
		{name: "identifier with spaces kept as sent", in: cr(line("Cookie: mstshash= Alice "), neg(0, 3)),
			want: ConnRequest{Cookie: " Alice ", Token: RoutingToken{Kind: TokenCookie, Raw: "Cookie: mstshash= Alice "}, HasNegReq: true, RequestedProtocols: 3}},
		{name: "non-ASCII identifier", in: cr(line("Cookie: mstshash=jürgen"), neg(0, 3)),
			want: ConnRequest{Cookie: "jürgen", Token: RoutingToken{Kind: TokenCookie, Raw: "Cookie: mstshash=jürgen"}, HasNegReq: true, RequestedProtocols: 3}},
		{name: "identifier containing =", in: cr(line("Cookie: mstshash=a=b"), neg(0, 3)),
			want: ConnRequest{Cookie: "a=b", Token: RoutingToken{Kind: TokenCookie, Raw: "Cookie: mstshash=a=b"}, HasNegReq: true, RequestedProtocols: 3}},
		{name: "mstshash without = is another token", in: cr(line("Cookie: mstshash alice")),
			want: ConnRequest{Token: RoutingToken{Kind: TokenOther, Raw: "Cookie: mstshash alice"}}},
		{name: "tab in line", in: cr(line("Cookie: mstshash=al\tice")), wantErr: ErrCookie},
		{name: "DEL in line", in: cr(line("Cookie: mstshash=al\x7fice")), wantErr: ErrCookie},
		{name: "CR alone in line", in: cr(line("Cookie: mstshash=al\rice")), wantErr: ErrCookie},
		{name: "line ends with CR only", in: cr([]byte("Cookie: mstshash=alice\r")), wantErr: ErrCookie},
		{name: "tsv prefix in another case", in: cr(line("TSV://ms terminal services plugin.1.VDI"), neg(0, 3)),
			want: ConnRequest{Token: RoutingToken{Kind: TokenTSV, Raw: "TSV://ms terminal services plugin.1.VDI", Collection: "VDI"}, HasNegReq: true, RequestedProtocols: 3}},
		{name: "tsv collection with dots and spaces", in: cr(line("tsv://MS Terminal Services Plugin.1.Sales Team.EU")),
			want: ConnRequest{Token: RoutingToken{Kind: TokenTSV, Raw: "tsv://MS Terminal Services Plugin.1.Sales Team.EU", Collection: "Sales Team.EU"}}},
		{name: "other tsv plugin version is another token", in: cr(line("tsv://MS Terminal Services Plugin.2.Sales")),
			want: ConnRequest{Token: RoutingToken{Kind: TokenOther, Raw: "tsv://MS Terminal Services Plugin.2.Sales"}}},
		{name: "msts with leading zeros", in: cr(line("Cookie: msts=0016777226.15629.0")),
			want: ConnRequest{Token: RoutingToken{Kind: TokenMSTS, Raw: "Cookie: msts=0016777226.15629.0", Addr: netip.MustParseAddrPort("10.0.0.1:3389")}}},
		{name: "msts with a sign", in: cr(line("Cookie: msts=+3640205228.15629.0000")), wantErr: ErrRoutingToken},
		{name: "NEG_REQ with a byte too many", in: cr(neg(0, 3), []byte{0}), wantErr: ErrTrailing},
		{name: "NEG_REQ cut short without line", in: cr(neg(0, 3)[:7]), wantErr: ErrNegReq},
		{name: "line after NEG_REQ", in: cr(neg(0, 3), line("Cookie: mstshash=alice")), wantErr: ErrTrailing},
		{name: "any flags and protocols", in: cr(neg(0x02, 0x1f)),
			want: ConnRequest{HasNegReq: true, NegFlags: NegFlagRedirectedAuth, RequestedProtocols: 0x1f}},
		{name: "correlation with non-zero reserved bytes is accepted", in: cr(neg(0x08, 3), corrInfo(0x0d, 0xff)),
			want: ConnRequest{HasNegReq: true, NegFlags: 0x08, RequestedProtocols: 3, HasCorrelation: true,
				CorrelationID: [16]byte{0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d}}},
		{name: "correlation flags not zero", in: cr(neg(0x08, 3), func() []byte { b := corrInfo(1, 0); b[1] = 1; return b }()), wantErr: ErrCorrelation},
		{name: "correlation cut short", in: cr(neg(0x08, 3), corrInfo(1, 0)[:35]), wantErr: ErrCorrelation},
		{name: "correlation and a byte more", in: cr(neg(0x08, 3), corrInfo(1, 0), []byte{0}), wantErr: ErrTrailing},
		{name: "longest cookie with NEG_REQ fits", in: cr(line(CookiePrefix+strings.Repeat("a", 221)), neg(0, 3)),
			want: cookieReq(strings.Repeat("a", 221), 3)},
		{name: "longest line without NEG_REQ fits", in: cr(line(strings.Repeat("x", 246))),
			want: ConnRequest{Token: RoutingToken{Kind: TokenOther, Raw: strings.Repeat("x", 246)}}},
		{name: "one byte too long", in: cr(line(strings.Repeat("x", 247))), wantErr: ErrTPKTLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConnectionRequest(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if got != (ConnRequest{}) {
					t.Errorf("request on error = %+v, want zero", got)
				}
				if !strings.HasPrefix(err.Error(), "rdp: parse connection request: ") {
					t.Errorf("error %q does not name the operation", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseConnectionRequestDoesNotRetainInput(t *testing.T) {
	b := cr(line("Cookie: mstshash=alice"), neg(0, 3))
	req, err := ParseConnectionRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	if req.Cookie != "alice" || req.Token.Raw != "Cookie: mstshash=alice" {
		t.Errorf("request changed with its input: %+v", req)
	}
}

func TestBuildConnectionRequest(t *testing.T) {
	ts04 := netip.MustParseAddrPort("172.31.249.216:3389")
	tests := []struct {
		name string
		req  ConnRequest
		want []byte
	}{
		{name: "probe request", req: ConnRequest{HasNegReq: true, RequestedProtocols: ProtocolSSL | ProtocolHybrid | ProtocolHybridEx},
			want: ProbeRequest},
		{name: "spec example", req: cookieReq("eltons", ProtocolRDP),
			want: append([]byte{0x03, 0x00, 0x00, 0x2c, 0x27, 0xe0, 0, 0, 0, 0, 0}, append(line("Cookie: mstshash=eltons"), 1, 0, 8, 0, 0, 0, 0, 0)...)},
		{name: "nothing", req: ConnRequest{}, want: []byte{0x03, 0x00, 0x00, 0x0b, 0x06, 0xe0, 0, 0, 0, 0, 0}},
		{name: "cookie without token", req: ConnRequest{Cookie: "alice"}, want: cr(line("Cookie: mstshash=alice"))},
		{name: "cookie wins over a token that is not its line", req: ConnRequest{Cookie: "alice",
			Token: RoutingToken{Kind: TokenTSV, Raw: "tsv://MS Terminal Services Plugin.1.Sales", Collection: "Sales"}},
			want: cr(line("Cookie: mstshash=alice"))},
		{name: "cookie keeps the client's prefix spelling", req: ConnRequest{Cookie: "alice",
			Token: RoutingToken{Kind: TokenCookie, Raw: "COOKIE: MSTSHASH=alice"}},
			want: cr(line("COOKIE: MSTSHASH=alice"))},
		{name: "msts token from its address", req: ConnRequest{Token: RoutingToken{Kind: TokenMSTS, Addr: ts04}},
			want: cr(line("Cookie: msts=3640205228.15629.0000"))},
		{name: "tsv token from its collection", req: ConnRequest{Token: RoutingToken{Kind: TokenTSV, Collection: "Sales"}},
			want: cr(line("tsv://MS Terminal Services Plugin.1.Sales"))},
		{name: "other token", req: ConnRequest{Token: RoutingToken{Kind: TokenOther, Raw: "x"}}, want: cr(line("x"))},
		{name: "other token without raw", req: ConnRequest{Token: RoutingToken{Kind: TokenOther}}, want: cr()},
		{name: "HasCorrelation sets the flag", req: ConnRequest{HasNegReq: true, RequestedProtocols: 3, HasCorrelation: true,
			CorrelationID: [16]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
			want: cr(neg(0x08, 3), corrInfo(1, 0))},
		{name: "correlation needs NEG_REQ", req: ConnRequest{HasCorrelation: true}, want: cr()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := BuildConnectionRequest(tc.req)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got  % x\nwant % x", got, tc.want)
			}
			if _, err := ParseConnectionRequest(got); err != nil {
				t.Errorf("built request does not parse: %v", err)
			}
		})
	}
}

// TestBuildConnectionRequestUnchecked: Build does not validate; what it
// cannot encode validly, the parser refuses.
func TestBuildConnectionRequestUnchecked(t *testing.T) {
	tests := []struct {
		name    string
		req     ConnRequest
		wantErr error
	}{
		{name: "oversized cookie", req: ConnRequest{Cookie: strings.Repeat("a", 222), HasNegReq: true}, wantErr: ErrTPKTLength},
		{name: "huge cookie", req: ConnRequest{Cookie: strings.Repeat("a", 70000)}, wantErr: ErrTPKTLength},
		{name: "CRLF inside the cookie", req: ConnRequest{Cookie: "a\r\nb"}, wantErr: ErrNegReq},
		{name: "correlation flag alone still encodes correlation info", req: ConnRequest{HasNegReq: true, NegFlags: NegFlagCorrelationInfo},
			wantErr: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConnectionRequest(BuildConnectionRequest(tc.req))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestRequestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  ConnRequest
	}{
		{"empty", ConnRequest{}},
		{"cookie only", ConnRequest{Cookie: "alice", Token: RoutingToken{Kind: TokenCookie, Raw: "Cookie: mstshash=alice"}}},
		{"cookie and neg", cookieReq(`CORP\alic`, 0x0b)},
		{"neg only", ConnRequest{HasNegReq: true, RequestedProtocols: 0xffffffff, NegFlags: 0x07}},
		{"msts", ConnRequest{Token: RoutingToken{Kind: TokenMSTS, Raw: "Cookie: msts=16777226.15629.0000",
			Addr: netip.MustParseAddrPort("10.0.0.1:3389")}, HasNegReq: true}},
		{"tsv", ConnRequest{Token: RoutingToken{Kind: TokenTSV, Raw: "tsv://MS Terminal Services Plugin.1.VDI", Collection: "VDI"}}},
		{"other", ConnRequest{Token: RoutingToken{Kind: TokenOther, Raw: "whatever: 1"}}},
		{"correlation", ConnRequest{HasNegReq: true, NegFlags: NegFlagCorrelationInfo | NegFlagRestrictedAdmin,
			HasCorrelation: true, CorrelationID: [16]byte{0xf4, 0, 0x0d, 9: 0xff}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConnectionRequest(BuildConnectionRequest(tc.req))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.req {
				t.Errorf("got  %+v\nwant %+v", got, tc.req)
			}
		})
	}
}

func TestPacketLength(t *testing.T) {
	tests := []struct {
		name    string
		hdr     [4]byte
		want    int
		wantErr error
	}{
		{name: "minimum", hdr: [4]byte{3, 0, 0, 11}, want: 11},
		{name: "maximum", hdr: [4]byte{3, 0, 0x01, 0x03}, want: 259},
		{name: "spec example", hdr: [4]byte{3, 0, 0, 0x2c}, want: 44},
		{name: "TLS", hdr: [4]byte{0x16, 3, 1, 2}, wantErr: ErrTLS},
		{name: "HTTP", hdr: [4]byte{'G', 'E', 'T', ' '}, wantErr: ErrNotTPKT},
		{name: "version 2", hdr: [4]byte{2, 0, 0, 11}, wantErr: ErrNotTPKT},
		{name: "reserved", hdr: [4]byte{3, 1, 0, 11}, wantErr: ErrNotTPKT},
		{name: "too short", hdr: [4]byte{3, 0, 0, 10}, wantErr: ErrTPKTLength},
		{name: "zero", hdr: [4]byte{3, 0, 0, 0}, wantErr: ErrTPKTLength},
		{name: "too long", hdr: [4]byte{3, 0, 0x01, 0x04}, wantErr: ErrTPKTLength},
		{name: "65535", hdr: [4]byte{3, 0, 0xff, 0xff}, wantErr: ErrTPKTLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PacketLength(tc.hdr)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("PacketLength(% x) = %d, %v; want %d, %v", tc.hdr, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestTokenKindString(t *testing.T) {
	for k, want := range map[TokenKind]string{TokenNone: "none", TokenCookie: "mstshash", TokenMSTS: "msts",
		TokenTSV: "tsv", TokenOther: "other", 99: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("TokenKind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
