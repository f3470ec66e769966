package rdp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
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
