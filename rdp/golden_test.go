package rdp

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// golden is one testdata/*.hex file: one packet written as hex bytes, with
// whitespace and newlines anywhere and "#" starting a comment. A comment
// "# want: ErrX" names the error the packet must give.
type golden struct {
	name string // file name without .hex
	data []byte
	want string // sentinel name from "# want:", "" for a valid packet
}

// loadGoldens reads every testdata/*.hex file.
func loadGoldens(tb testing.TB) []golden {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.hex"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no testdata/*.hex: %v", err)
	}
	var out []golden
	for _, p := range paths {
		g, err := parseHexFile(p)
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		out = append(out, g)
	}
	return out
}

func parseHexFile(path string) (golden, error) {
	f, err := os.ReadFile(path)
	if err != nil {
		return golden{}, err
	}
	g := golden{name: strings.TrimSuffix(filepath.Base(path), ".hex")}
	var digits strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(f))
	for sc.Scan() {
		line, comment, _ := strings.Cut(sc.Text(), "#")
		if w, ok := strings.CutPrefix(strings.TrimSpace(comment), "want:"); ok {
			g.want = strings.TrimSpace(w)
		}
		for _, field := range strings.Fields(line) {
			digits.WriteString(field)
		}
	}
	g.data, err = hex.DecodeString(digits.String())
	return g, err
}

// isUDP tells RDP-UDP datagram goldens (udp_*, bad_udp_*) from TCP packets.
func (g golden) isUDP() bool {
	return strings.HasPrefix(strings.TrimPrefix(g.name, "bad_"), "udp_")
}

// isConfirm tells confirm goldens (cc_*, bad_cc_*) from request goldens.
func (g golden) isConfirm() bool {
	return strings.HasPrefix(strings.TrimPrefix(g.name, "bad_"), "cc_")
}

var sentinelsByName = map[string]error{
	"ErrShort": ErrShort, "ErrTLS": ErrTLS, "ErrNotTPKT": ErrNotTPKT, "ErrTPKTLength": ErrTPKTLength,
	"ErrX224Length": ErrX224Length, "ErrNotCR": ErrNotCR, "ErrNotCC": ErrNotCC, "ErrClass": ErrClass,
	"ErrCookie": ErrCookie, "ErrRoutingToken": ErrRoutingToken, "ErrNegReq": ErrNegReq,
	"ErrCorrelation": ErrCorrelation, "ErrNegRsp": ErrNegRsp, "ErrTrailing": ErrTrailing,
	"ErrNotUDPSyn": ErrNotUDPSyn, "ErrUDPSyn": ErrUDPSyn, "ErrUDPCorrelation": ErrUDPCorrelation,
	"ErrUDPSynEx": ErrUDPSynEx, "ErrUDPPadding": ErrUDPPadding,
}

func cookieReq(id string, protocols uint32) ConnRequest {
	return ConnRequest{Cookie: id, Token: RoutingToken{Kind: TokenCookie, Raw: CookiePrefix + id},
		HasNegReq: true, RequestedProtocols: protocols}
}

// wantRequests is what every valid request golden must parse to.
var wantRequests = map[string]ConnRequest{
	"spec_4_1_1_eltons":               cookieReq("eltons", ProtocolRDP),
	"freerdp_alice":                   cookieReq("alice", ProtocolSSL|ProtocolHybrid),
	"freerdp_domain_verylongusername": cookieReq("verylongusername", ProtocolSSL|ProtocolHybrid),
	"freerdp_upn":                     cookieReq("someone.with.long.name@corp.example.com", ProtocolSSL|ProtocolHybrid),
	"freerdp_no_user":                 cookieReq("root", ProtocolSSL|ProtocolHybrid),
	"freerdp_sec_rdp":                 {Cookie: "alice", Token: RoutingToken{Kind: TokenCookie, Raw: "Cookie: mstshash=alice"}},
	"freerdp_restricted_admin": func() ConnRequest {
		r := cookieReq("alice", ProtocolSSL|ProtocolHybrid)
		r.NegFlags = NegFlagRestrictedAdmin
		return r
	}(),
	"freerdp_tsv_sales": {
		Token:     RoutingToken{Kind: TokenTSV, Raw: "tsv://MS Terminal Services Plugin.1.Sales", Collection: "Sales"},
		HasNegReq: true, RequestedProtocols: ProtocolSSL | ProtocolHybrid,
	},
	"freerdp_msts_token": {
		Token: RoutingToken{Kind: TokenMSTS, Raw: "Cookie: msts=3640205228.15629.0000",
			Addr: netip.MustParseAddrPort("172.31.249.216:3389")},
		HasNegReq: true, RequestedProtocols: ProtocolSSL | ProtocolHybrid,
	},
	"mstsc_truncated_cookie": cookieReq(`CORP\alic`, ProtocolSSL|ProtocolHybrid|ProtocolHybridEx),
	"correlation_info": func() ConnRequest {
		r := cookieReq("bob", ProtocolSSL|ProtocolHybrid|ProtocolHybridEx)
		r.NegFlags, r.HasCorrelation = NegFlagCorrelationInfo, true
		r.CorrelationID = [16]byte{0x7e, 0x3d, 0x2a, 0x1c, 0x9b, 0x4f, 0x4e, 0x0a, 0x8c, 0x5d, 0x6b, 0x7a, 0x39, 0x28, 0x17, 0x06}
		return r
	}(),
	"minimal_no_cookie_no_negreq": {},
	"negreq_only":                 {HasNegReq: true, RequestedProtocols: ProtocolSSL | ProtocolHybrid | ProtocolHybridEx},
	"other_token": {
		Token:     RoutingToken{Kind: TokenOther, Raw: "Cookie: route=ts04.corp.example"},
		HasNegReq: true, RequestedProtocols: ProtocolSSL | ProtocolHybrid,
	},
	"cookie_prefix_case": {
		Cookie: "Alice", Token: RoutingToken{Kind: TokenCookie, Raw: "COOKIE: MSTSHASH=Alice"},
		HasNegReq: true, RequestedProtocols: ProtocolSSL | ProtocolHybrid,
	},
}

// wantConfirms is what every valid confirm golden must parse to.
var wantConfirms = map[string]ConnConfirm{
	"cc_xrdp_neg_rsp": {HasNeg: true, NegType: NegTypeResponse, NegFlags: 0x01, SelectedProtocol: ProtocolSSL},
	"cc_xrdp_no_neg":  {},
	"cc_neg_failure":  {HasNeg: true, NegType: NegTypeFailure, FailureCode: FailureHybridRequired},
}

func TestGoldens(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range loadGoldens(t) {
		seen[g.name] = true
		t.Run(g.name, func(t *testing.T) {
			if strings.HasPrefix(g.name, "bad_") != (g.want != "") {
				t.Fatalf("bad_* files need a '# want: ErrX' comment, others must not have one (want %q)", g.want)
			}
			var err error
			switch {
			case g.isUDP():
				err = checkUDPGolden(t, g)
			case g.isConfirm():
				var cc ConnConfirm
				cc, err = ParseConnectionConfirm(g.data)
				if w, ok := wantConfirms[g.name]; ok && err == nil && cc != w {
					t.Errorf("ParseConnectionConfirm = %+v, want %+v", cc, w)
				}
				if err == nil && !bytes.Equal(cc.Marshal()[bodyOffset:], g.data[bodyOffset:]) {
					t.Errorf("Marshal = % x, want the golden's body % x", cc.Marshal(), g.data)
				}
			default:
				var req ConnRequest
				req, err = ParseConnectionRequest(g.data)
				if w, ok := wantRequests[g.name]; ok && err == nil && req != w {
					t.Errorf("ParseConnectionRequest =\n %+v, want\n %+v", req, w)
				}
				if err == nil && !bytes.Equal(BuildConnectionRequest(req), g.data) {
					t.Errorf("BuildConnectionRequest =\n % x, want the golden\n % x", BuildConnectionRequest(req), g.data)
				}
			}
			if g.want == "" {
				if err != nil {
					t.Fatalf("valid golden: %v", err)
				}
				return
			}
			sentinel, ok := sentinelsByName[g.want]
			if !ok {
				t.Fatalf("unknown sentinel %q in '# want:'", g.want)
			}
			if !errors.Is(err, sentinel) {
				t.Fatalf("err = %v, want %s", err, g.want)
			}
		})
	}
	for _, m := range []map[string]bool{keys(wantRequests), keys(wantConfirms), keys(wantUDPSyns)} {
		for name := range m {
			if !seen[name] {
				t.Errorf("expected golden testdata/%s.hex is missing", name)
			}
		}
	}
	for name := range seen {
		_, r := wantRequests[name]
		_, c := wantConfirms[name]
		_, u := wantUDPSyns[name]
		if !strings.HasPrefix(name, "bad_") && !r && !c && !u {
			t.Errorf("testdata/%s.hex has no expected value in wantRequests, wantConfirms or wantUDPSyns", name)
		}
	}
}

func keys[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// TestGoldenCoverage: every parse sentinel has at least one bad_* golden.
func TestGoldenCoverage(t *testing.T) {
	var wants []string
	for _, g := range loadGoldens(t) {
		if g.want != "" {
			wants = append(wants, g.want)
		}
	}
	for name := range sentinelsByName {
		if !slices.Contains(wants, name) {
			t.Errorf("no bad_*.hex golden wants %s", name)
		}
	}
}
