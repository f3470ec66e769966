package rdp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseConnectionConfirm(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    ConnConfirm
		wantErr error
	}{
		{name: "notes example NEG_RSP", in: []byte{3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 0x02, 0x1f, 0x08, 0, 0x02, 0, 0, 0},
			want: ConnConfirm{HasNeg: true, NegType: NegTypeResponse, NegFlags: 0x1f, SelectedProtocol: ProtocolHybrid}},
		{name: "references ignored", in: []byte{3, 0, 0, 0x13, 0x0e, 0xd0, 0xab, 0xcd, 0xef, 0x01, 0, 0x02, 0, 0x08, 0, 0x01, 0, 0, 0},
			want: ConnConfirm{HasNeg: true, NegType: NegTypeResponse, SelectedProtocol: ProtocolSSL}},
		{name: "failure", in: []byte{3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0, 0, 0, 0x03, 0, 0x08, 0, 0x01, 0, 0, 0},
			want: ConnConfirm{HasNeg: true, NegType: NegTypeFailure, FailureCode: FailureSSLRequired}},
		{name: "bare", in: []byte{3, 0, 0, 0x0b, 0x06, 0xd0, 0, 0, 0, 0, 0}, want: ConnConfirm{}},
		{name: "empty", in: nil, wantErr: ErrShort},
		{name: "TLS", in: []byte{0x16, 3, 3}, wantErr: ErrTLS},
		{name: "X.224 disconnect request", in: []byte{3, 0, 0, 0x0b, 0x06, 0x80, 0, 0, 0, 0, 0}, wantErr: ErrNotCC},
		{name: "MCS disconnect ultimatum from xrdp", in: []byte{3, 0, 0, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80}, wantErr: ErrTPKTLength},
		{name: "class 4", in: []byte{3, 0, 0, 0x0b, 0x06, 0xd0, 0, 0, 0, 0, 0x40}, wantErr: ErrClass},
		{name: "LI wrong", in: []byte{3, 0, 0, 0x0b, 0x0e, 0xd0, 0, 0, 0, 0, 0}, wantErr: ErrX224Length},
		{name: "neg length 9", in: []byte{3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0, 0, 0, 0x02, 0, 0x09, 0, 0x01, 0, 0, 0}, wantErr: ErrNegRsp},
		{name: "correlation type", in: []byte{3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0, 0, 0, 0x06, 0, 0x08, 0, 0x01, 0, 0, 0}, wantErr: ErrNegRsp},
		{name: "one byte of neg", in: []byte{3, 0, 0, 0x0c, 0x07, 0xd0, 0, 0, 0, 0, 0, 0x02}, wantErr: ErrNegRsp},
		{name: "truncated", in: []byte{3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0, 0, 0, 0x02}, wantErr: ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConnectionConfirm(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "rdp: parse connection confirm: ") {
				t.Errorf("error %q does not name the operation", err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestBuildConfirms(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
		cc   ConnConfirm
	}{
		{name: "NEG_RSP SSL", got: BuildConnectionConfirm(ProtocolSSL),
			want: []byte{3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 0x02, 0, 0x08, 0, 0x01, 0, 0, 0},
			cc:   ConnConfirm{HasNeg: true, NegType: NegTypeResponse, SelectedProtocol: ProtocolSSL}},
		{name: "NEG_RSP RDP", got: BuildConnectionConfirm(ProtocolRDP),
			want: []byte{3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 0x02, 0, 0x08, 0, 0, 0, 0, 0},
			cc:   ConnConfirm{HasNeg: true, NegType: NegTypeResponse}},
		{name: "NEG_FAILURE", got: BuildNegotiationFailure(FailureHybridRequired),
			want: []byte{3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 0x03, 0, 0x08, 0, 0x05, 0, 0, 0},
			cc:   ConnConfirm{HasNeg: true, NegType: NegTypeFailure, FailureCode: FailureHybridRequired}},
		{name: "bare Marshal", got: ConnConfirm{}.Marshal(),
			want: []byte{3, 0, 0, 0x0b, 0x06, 0xd0, 0, 0, 0x12, 0x34, 0}},
		{name: "Marshal with flags", got: ConnConfirm{HasNeg: true, NegType: NegTypeResponse, NegFlags: 0x1f, SelectedProtocol: 0x0b}.Marshal(),
			want: []byte{3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 0x02, 0x1f, 0x08, 0, 0x0b, 0, 0, 0},
			cc:   ConnConfirm{HasNeg: true, NegType: NegTypeResponse, NegFlags: 0x1f, SelectedProtocol: 0x0b}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Equal(tc.got, tc.want) {
				t.Fatalf("got  % x\nwant % x", tc.got, tc.want)
			}
			cc, err := ParseConnectionConfirm(tc.got)
			if err != nil || cc != tc.cc {
				t.Errorf("parsed back = %+v, %v; want %+v", cc, err, tc.cc)
			}
		})
	}
}

func TestMarshalInvalidNegTypeDoesNotParse(t *testing.T) {
	b := ConnConfirm{HasNeg: true, NegType: 0x07}.Marshal()
	if _, err := ParseConnectionConfirm(b); !errors.Is(err, ErrNegRsp) {
		t.Fatalf("err = %v, want ErrNegRsp", err)
	}
}
