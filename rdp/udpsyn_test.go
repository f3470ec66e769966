package rdp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
)

// goldenCorrelationID is the id of testdata/correlation_info.hex and of the
// udp_syn_correlation* goldens.
var goldenCorrelationID = [16]byte{0x7e, 0x3d, 0x2a, 0x1c, 0x9b, 0x4f, 0x4e, 0x0a, 0x8c, 0x5d, 0x6b, 0x7a, 0x39, 0x28, 0x17, 0x06}

// wantUDPSyns is what every valid RDP-UDP golden must parse to.
var wantUDPSyns = map[string]UDPSyn{
	"udp_syn_v1": {ReceiveWindowSize: 64, InitialSequenceNumber: 0x1a2b3c4d, UpStreamMTU: 1232, DownStreamMTU: 1232},
	"udp_syn_correlation": {ReceiveWindowSize: 64, InitialSequenceNumber: 0x5e6f7081, UpStreamMTU: 1232, DownStreamMTU: 1232,
		HasCorrelation: true, CorrelationID: goldenCorrelationID},
	"udp_syn_correlation_synex_v2": {ReceiveWindowSize: 64, InitialSequenceNumber: 1, UpStreamMTU: 1232, DownStreamMTU: 1232,
		HasCorrelation: true, CorrelationID: goldenCorrelationID,
		HasSynEx: true, SynExFlags: UDPSynExVersionInfoValid, Version: UDPVersion2},
	"udp_syn_lossy_synex_v3": {ReceiveWindowSize: 64, Lossy: true, InitialSequenceNumber: 0xfffffffe, UpStreamMTU: 1232, DownStreamMTU: 1132,
		HasSynEx: true, SynExFlags: UDPSynExVersionInfoValid, Version: UDPVersion3,
		HasCookieHash: true, CookieHash: mustHash32("d3b2311c09ca2bd6196929c932657bb858663152" + "65bd43378771a621e2e297c0")},
}

func mustHash32(s string) (h [32]byte) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		panic("bad hash " + s)
	}
	return [32]byte(b)
}

// checkUDPGolden parses an RDP-UDP golden, compares it with wantUDPSyns
// and checks that BuildUDPSyn gives its bytes back.
func checkUDPGolden(t *testing.T, g golden) error {
	t.Helper()
	syn, err := ParseUDPSyn(g.data)
	if err != nil {
		return err
	}
	if w, ok := wantUDPSyns[g.name]; ok && syn != w {
		t.Errorf("ParseUDPSyn =\n %+v, want\n %+v", syn, w)
	}
	if built := BuildUDPSyn(syn); !bytes.Equal(built, g.data) {
		t.Errorf("BuildUDPSyn =\n % x, want the golden\n % x", built, g.data)
	}
	return nil
}

// TestCorrelationTCPAndUDP: the correlation id of the X.224 request golden
// and of the UDP SYN golden are the same bytes, as a relay compares them.
func TestCorrelationTCPAndUDP(t *testing.T) {
	cr, err := parseHexFile(filepath.Join("testdata", "correlation_info.hex"))
	if err != nil {
		t.Fatal(err)
	}
	udp, err := parseHexFile(filepath.Join("testdata", "udp_syn_correlation.hex"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := ParseConnectionRequest(cr.data)
	if err != nil {
		t.Fatal(err)
	}
	syn, err := ParseUDPSyn(udp.data)
	if err != nil {
		t.Fatal(err)
	}
	if !req.HasCorrelation || !syn.HasCorrelation || req.CorrelationID != syn.CorrelationID {
		t.Fatalf("CR %v % x, SYN %v % x: want the same id", req.HasCorrelation, req.CorrelationID, syn.HasCorrelation, syn.CorrelationID)
	}
}

// synBytes builds a SYN by hand (not with BuildUDPSyn): the FEC header and
// SYNDATA with the given fields, then payloads, padded with zeros to pad.
func synBytes(ack uint32, flags, up, down uint16, pad int, payloads ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, ack)
	b = binary.BigEndian.AppendUint16(b, 32)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint32(b, 7)
	b = binary.BigEndian.AppendUint16(b, up)
	b = binary.BigEndian.AppendUint16(b, down)
	for _, p := range payloads {
		b = append(b, p...)
	}
	if len(b) < pad {
		b = append(b, make([]byte, pad-len(b))...)
	}
	return b
}

func corrPayload(id, reserved byte) []byte {
	return append(bytes.Repeat([]byte{id}, 16), bytes.Repeat([]byte{reserved}, 16)...)
}

func TestParseUDPSyn(t *testing.T) {
	const all = 0xFFFFFFFF
	base := UDPSyn{ReceiveWindowSize: 32, InitialSequenceNumber: 7, UpStreamMTU: 1232, DownStreamMTU: 1232}
	with := func(f func(*UDPSyn)) UDPSyn { s := base; f(&s); return s }
	tests := []struct {
		name    string
		in      []byte
		want    UDPSyn
		wantErr error
	}{
		{name: "nil", in: nil, wantErr: ErrShort},
		{name: "7 bytes", in: synBytes(all, 1, 1232, 1232, 0)[:7], wantErr: ErrShort},
		{name: "minimal SYN", in: synBytes(all, 1, 1232, 1232, 1232), want: base},
		{name: "smallest MTUs", in: synBytes(all, 1, 1132, 1132, 1132), want: with(func(s *UDPSyn) { s.UpStreamMTU, s.DownStreamMTU = 1132, 1132 })},
		{name: "padded to the smaller MTU", in: synBytes(all, 1, 1200, 1150, 1150), want: with(func(s *UDPSyn) { s.UpStreamMTU, s.DownStreamMTU = 1200, 1150 })},
		{name: "padded to the larger MTU", in: synBytes(all, 1, 1200, 1150, 1200), wantErr: ErrUDPPadding},
		{name: "one byte short of the MTU", in: synBytes(all, 1, 1232, 1232, 1231), wantErr: ErrUDPPadding},
		{name: "one byte over the MTU", in: append(synBytes(all, 1, 1232, 1232, 1232), 0), wantErr: ErrUDPPadding},
		{name: "lossy", in: synBytes(all, 0x0201, 1232, 1232, 1232), want: with(func(s *UDPSyn) { s.Lossy = true })},
		{name: "no SYN flag", in: synBytes(all, 0, 1232, 1232, 1232), wantErr: ErrNotUDPSyn},
		{name: "data datagram", in: synBytes(5, 0x0008, 1232, 1232, 100), wantErr: ErrNotUDPSyn},
		{name: "SYN+ACK", in: synBytes(7, 0x0005, 1232, 1232, 1232), wantErr: ErrNotUDPSyn},
		{name: "short SYN+ACK header", in: synBytes(7, 0x0005, 1232, 1232, 0)[:8], wantErr: ErrNotUDPSyn},
		{name: "snSourceAck not -1", in: synBytes(0, 1, 1232, 1232, 1232), wantErr: ErrUDPSyn},
		{name: "FIN flag", in: synBytes(all, 0x0003, 1232, 1232, 1232), wantErr: ErrUDPSyn},
		{name: "undefined flag 0x8000", in: synBytes(all, 0x8001, 1232, 1232, 1232), wantErr: ErrUDPSyn},
		{name: "upstream MTU 1131", in: synBytes(all, 1, 1131, 1232, 1131), wantErr: ErrUDPSyn},
		{name: "downstream MTU 1233", in: synBytes(all, 1, 1232, 1233, 1232), wantErr: ErrUDPSyn},
		{name: "header only", in: synBytes(all, 1, 1232, 1232, 0)[:8], wantErr: ErrShort},
		{name: "correlation", in: synBytes(all, 0x0801, 1232, 1232, 1232, corrPayload(0x0d, 0)),
			want: with(func(s *UDPSyn) { s.HasCorrelation, s.CorrelationID = true, [16]byte(bytes.Repeat([]byte{0x0d}, 16)) })},
		{name: "correlation reserved not zero", in: synBytes(all, 0x0801, 1232, 1232, 1232, corrPayload(1, 0x80)), wantErr: ErrUDPCorrelation},
		{name: "correlation cut", in: synBytes(all, 0x0801, 1232, 1232, 0, corrPayload(1, 0)[:31]), wantErr: ErrShort},
		{name: "synex without version", in: synBytes(all, 0x1001, 1232, 1232, 1232, []byte{0, 0, 0, 0}),
			want: with(func(s *UDPSyn) { s.HasSynEx = true })},
		{name: "synex, no valid flag, version ignored", in: synBytes(all, 0x1001, 1232, 1232, 1232, []byte{0, 0, 0x12, 0x34}),
			want: with(func(s *UDPSyn) { s.HasSynEx, s.Version = true, 0x1234 })},
		{name: "synex version 1", in: synBytes(all, 0x1001, 1232, 1232, 1232, []byte{0, 1, 0, 1}),
			want: with(func(s *UDPSyn) { s.HasSynEx, s.SynExFlags, s.Version = true, 1, UDPVersion1 })},
		{name: "synex unknown flag", in: synBytes(all, 0x1001, 1232, 1232, 1232, []byte{0, 3, 0, 1}), wantErr: ErrUDPSynEx},
		{name: "synex version 0", in: synBytes(all, 0x1001, 1232, 1232, 1232, []byte{0, 1, 0, 0}), wantErr: ErrUDPSynEx},
		{name: "synex cut", in: synBytes(all, 0x1001, 1232, 1232, 0, []byte{0, 1, 0}), wantErr: ErrShort},
		{name: "synex version 3 with hash", in: synBytes(all, 0x1001, 1232, 1232, 1232, []byte{0, 1, 1, 1}, bytes.Repeat([]byte{0xab}, 32)),
			want: with(func(s *UDPSyn) {
				s.HasSynEx, s.SynExFlags, s.Version, s.HasCookieHash = true, 1, UDPVersion3, true
				s.CookieHash = [32]byte(bytes.Repeat([]byte{0xab}, 32))
			})},
		{name: "synex version 3, hash cut", in: synBytes(all, 0x1001, 1232, 1232, 0, []byte{0, 1, 1, 1}, make([]byte, 31)), wantErr: ErrShort},
		{name: "correlation and synex in spec order", in: synBytes(all, 0x1801, 1232, 1232, 1232, corrPayload(2, 0), []byte{0, 1, 0, 2}),
			want: with(func(s *UDPSyn) {
				s.HasCorrelation, s.CorrelationID = true, [16]byte(bytes.Repeat([]byte{2}, 16))
				s.HasSynEx, s.SynExFlags, s.Version = true, 1, UDPVersion2
			})},
		{name: "synex flag without payload: the padding is read as one", in: synBytes(all, 0x1001, 1232, 1232, 1232),
			want: with(func(s *UDPSyn) { s.HasSynEx = true })},
		{name: "padding not zero", in: func() []byte { b := synBytes(all, 1, 1232, 1232, 1232); b[600] = 1; return b }(), wantErr: ErrUDPPadding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseUDPSyn(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if got != (UDPSyn{}) {
					t.Fatalf("non-zero result %+v with error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseUDPSyn: %v", err)
			}
			if got != tc.want {
				t.Fatalf("ParseUDPSyn =\n %+v, want\n %+v", got, tc.want)
			}
			if built := BuildUDPSyn(got); !bytes.Equal(built, tc.in) {
				t.Fatalf("BuildUDPSyn =\n % x, want\n % x", built, tc.in)
			}
		})
	}
}

func TestUDPSynFlags(t *testing.T) {
	s := UDPSyn{Lossy: true, HasCorrelation: true, HasSynEx: true}
	if got := s.Flags(); got != 0x1a01 {
		t.Fatalf("Flags = 0x%04x, want 0x1a01", got)
	}
	if got := (UDPSyn{}).Flags(); got != UDPFlagSyn {
		t.Fatalf("Flags of the zero SYN = 0x%04x, want 0x0001", got)
	}
}

// TestBuildUDPSynUnvalidated: out-of-range fields are encoded and the
// parser rejects the result.
func TestBuildUDPSynUnvalidated(t *testing.T) {
	b := BuildUDPSyn(UDPSyn{UpStreamMTU: 9000, DownStreamMTU: 9000})
	if len(b) != 9000 {
		t.Fatalf("len = %d, want 9000 (padded to the MTU given)", len(b))
	}
	if _, err := ParseUDPSyn(b); !errors.Is(err, ErrUDPSyn) {
		t.Fatalf("err = %v, want ErrUDPSyn", err)
	}
}
