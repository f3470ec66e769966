package rdp

import (
	"errors"
	"net/netip"
	"testing"
)

func TestMSTSToken(t *testing.T) {
	tests := []struct {
		name  string
		addr  string
		token string
	}{
		{"documented example", "172.31.249.216:3389", "3640205228.15629.0000"},
		{"10.0.0.1:3389", "10.0.0.1:3389", "16777226.15629.0000"},
		{"127.0.0.1:3390", "127.0.0.1:3390", "16777343.15885.0000"},
		{"zero", "0.0.0.0:0", "0.0.0000"},
		{"all ones", "255.255.255.255:65535", "4294967295.65535.0000"},
		{"port 1 swaps to 256", "192.168.1.10:1", "167880896.256.0000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ap := netip.MustParseAddrPort(tc.addr)
			if got := FormatMSTSToken(ap); got != tc.token {
				t.Errorf("FormatMSTSToken(%v) = %q, want %q", ap, got, tc.token)
			}
			got, err := ParseMSTSToken(tc.token)
			if err != nil || got != ap {
				t.Errorf("ParseMSTSToken(%q) = %v, %v; want %v", tc.token, got, err, ap)
			}
		})
	}
}

func TestFormatMSTSTokenNotIPv4(t *testing.T) {
	tests := []struct {
		name string
		ap   netip.AddrPort
		want string
	}{
		{"IPv4-mapped IPv6 is unmapped", netip.MustParseAddrPort("[::ffff:172.31.249.216]:3389"), "3640205228.15629.0000"},
		{"IPv6 has no msts form", netip.MustParseAddrPort("[2001:db8::1]:3389"), ""},
		{"zero AddrPort", netip.AddrPort{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatMSTSToken(tc.ap); got != tc.want {
				t.Errorf("FormatMSTSToken(%v) = %q, want %q", tc.ap, got, tc.want)
			}
		})
	}
}

func TestParseMSTSTokenErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"two parts", "3640205228.15629"},
		{"four parts", "3640205228.15629.0000.1"},
		{"address overflows 32 bits", "4294967296.15629.0000"},
		{"address of 11 digits", "00000000001.15629.0000"},
		{"port overflows 16 bits", "3640205228.65536.0000"},
		{"port of 6 digits", "3640205228.000001.0000"},
		{"empty address", ".15629.0000"},
		{"empty port", "3640205228..0000"},
		{"empty reserved", "3640205228.15629."},
		{"reserved not a number", "3640205228.15629.abcd"},
		{"reserved of 11 digits", "3640205228.15629.00000000000"},
		{"sign", "+3640205228.15629.0000"},
		{"minus", "3640205228.-1.0000"},
		{"hex", "0xd8f91fac.15629.0000"},
		{"space", "3640205228. 15629.0000"},
		{"trailing space", "3640205228.15629.0000 "},
		{"underscore", "3_640_205_228.15629.0000"},
		{"dotted quad", "172.31.249.216"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ap, err := ParseMSTSToken(tc.in)
			if !errors.Is(err, ErrRoutingToken) {
				t.Fatalf("ParseMSTSToken(%q) = %v, %v; want ErrRoutingToken", tc.in, ap, err)
			}
		})
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		name       string
		line       string
		wantCookie string
		wantKind   TokenKind
		wantErr    error
	}{
		{name: "cookie", line: "Cookie: mstshash=alice", wantCookie: "alice", wantKind: TokenCookie},
		{name: "cookie mixed case", line: "cOOKIE: MstsHash=alice", wantCookie: "alice", wantKind: TokenCookie},
		{name: "empty identifier", line: "Cookie: mstshash=", wantErr: ErrCookie},
		{name: "no space after colon", line: "Cookie:mstshash=alice", wantKind: TokenOther},
		{name: "msts", line: "Cookie: msts=3640205228.15629.0000", wantKind: TokenMSTS},
		{name: "msts mixed case", line: "COOKIE: MSTS=3640205228.15629.0000", wantKind: TokenMSTS},
		{name: "msts malformed", line: "Cookie: msts=1.2", wantErr: ErrRoutingToken},
		{name: "tsv", line: "tsv://MS Terminal Services Plugin.1.Sales", wantKind: TokenTSV},
		{name: "tsv empty collection", line: "tsv://MS Terminal Services Plugin.1.", wantErr: ErrRoutingToken},
		{name: "prefix shorter than line", line: "Cookie", wantKind: TokenOther},
		{name: "non-ASCII fold is not ASCII fold", line: "Cookie: mſtshash=alice", wantKind: TokenOther},
		{name: "Kelvin sign is not k", line: "Coo\u212aie: mstshash=alice", wantKind: TokenOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cookie, tok, err := parseLine([]byte(tc.line))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if cookie != tc.wantCookie || tok.Kind != tc.wantKind || tok.Raw != tc.line {
				t.Errorf("got cookie %q, token %+v; want cookie %q, kind %v, raw %q", cookie, tok, tc.wantCookie, tc.wantKind, tc.line)
			}
		})
	}
}
