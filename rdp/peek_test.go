package rdp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

var aliceCR = BuildConnectionRequest(cookieReq("alice", ProtocolSSL|ProtocolHybrid))

// TestReadConnectionRequestTakesWhatCameWithIt: bytes that arrived with
// the packet come back after it in raw (the caller replays raw whole, so
// nothing is lost), bytes past FirstReadLen stay on the connection, and
// the deadline is cleared.
func TestReadConnectionRequestTakesWhatCameWithIt(t *testing.T) {
	client, server := tcpPair(t)
	after := []byte("\x16\x03\x01 the ClientHello that follows")
	after = append(after, bytes.Repeat([]byte{'x'}, FirstReadLen)...) // more than one read takes
	sent := append(append([]byte(nil), aliceCR...), after...)
	if _, err := client.Write(sent); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let everything arrive
	raw, req, err := ReadConnectionRequest(server, time.Now().Add(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != FirstReadLen || !bytes.Equal(raw, sent[:FirstReadLen]) || req.Cookie != "alice" {
		t.Fatalf("raw (%d bytes) % x, req %+v", len(raw), raw, req)
	}
	time.Sleep(150 * time.Millisecond) // past the inspect deadline: it must have been cleared
	got := make([]byte, len(sent)-FirstReadLen)
	if _, err := io.ReadFull(server, got); err != nil {
		t.Fatalf("reading what follows: %v", err)
	}
	if !bytes.Equal(got, sent[FirstReadLen:]) {
		t.Fatalf("after the first read: %q, want %q", got, sent[FirstReadLen:])
	}
}

// TestReadConnectionRequestPipe: over net.Pipe, which has no buffer at
// all, a packet and bytes written after it: the read stops at the packet
// (a read past it would block the test) and the rest stays.
func TestReadConnectionRequestPipe(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go func() {
		client.Write(aliceCR)
		client.Write([]byte("rest"))
	}()
	raw, req, err := ReadConnectionRequest(server, time.Now().Add(time.Second))
	if err != nil || req.Cookie != "alice" || !bytes.Equal(raw, aliceCR) {
		t.Fatalf("raw % x, req %+v, err %v", raw, req, err)
	}
	rest := make([]byte, 4)
	server.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := io.ReadFull(server, rest); err != nil || string(rest) != "rest" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

func TestReadConnectionRequestErrors(t *testing.T) {
	const deadline = 300 * time.Millisecond
	tests := []struct {
		name     string
		send     []byte
		close    bool // half-close after sending
		want     []error
		wantRaw  []byte
		waitsAll bool // the error can only come at the deadline
	}{
		{name: "closed at once", close: true, want: []error{ErrShort, io.EOF}},
		{name: "two header bytes then closed", send: aliceCR[:2], close: true, want: []error{ErrShort, io.ErrUnexpectedEOF}, wantRaw: aliceCR[:2]},
		{name: "truncated then closed", send: aliceCR[:30], close: true, want: []error{ErrShort, io.ErrUnexpectedEOF}, wantRaw: aliceCR[:30]},
		{name: "header then closed", send: aliceCR[:4], close: true, want: []error{ErrShort, io.ErrUnexpectedEOF}, wantRaw: aliceCR[:4]},
		{name: "TLS ClientHello", send: []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, want: []error{ErrTLS}, wantRaw: []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}},
		{name: "TLS byte alone then closed", send: []byte{0x16}, close: true, want: []error{ErrTLS}, wantRaw: []byte{0x16}},
		{name: "bad reserved byte then silent", send: []byte{3, 1}, want: []error{ErrNotTPKT}, wantRaw: []byte{3, 1}, waitsAll: true},
		{name: "HTTP", send: []byte("GET / HTTP/1.1\r\n\r\n"), want: []error{ErrNotTPKT}, wantRaw: []byte("GET / HTTP/1.1\r\n\r\n")},
		{name: "oversized length refused without waiting", send: []byte{3, 0, 0xff, 0xff, 0xfa, 0xe0}, want: []error{ErrTPKTLength}, wantRaw: []byte{3, 0, 0xff, 0xff, 0xfa, 0xe0}},
		{name: "bad packet returns it whole", send: []byte{3, 0, 0, 11, 6, 0xd0, 0, 0, 0, 0, 0}, want: []error{ErrNotCR}, wantRaw: []byte{3, 0, 0, 11, 6, 0xd0, 0, 0, 0, 0, 0}},
		{name: "silent", want: []error{ErrTimeout, os.ErrDeadlineExceeded}, waitsAll: true},
		{name: "truncated and silent", send: aliceCR[:30], want: []error{ErrTimeout, os.ErrDeadlineExceeded}, wantRaw: aliceCR[:30], waitsAll: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, server := tcpPair(t)
			client.Write(tc.send)
			if tc.close {
				client.CloseWrite()
			}
			start := time.Now()
			raw, req, err := ReadConnectionRequest(server, start.Add(deadline))
			elapsed := time.Since(start)
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want it to wrap %v", err, w)
				}
			}
			if !bytes.Equal(raw, tc.wantRaw) {
				t.Errorf("raw = % x, want % x", raw, tc.wantRaw)
			}
			if req != (ConnRequest{}) {
				t.Errorf("req = %+v on error", req)
			}
			if tc.waitsAll && (elapsed < deadline-10*time.Millisecond || elapsed > deadline+200*time.Millisecond) {
				t.Errorf("returned after %v, want at the %v deadline", elapsed, deadline)
			}
			if !tc.waitsAll && elapsed > deadline/2 {
				t.Errorf("returned after %v, want at once", elapsed)
			}
		})
	}
}

// TestReadConnectionRequestSlowloris: a client sending one byte every
// 100ms is cut off at the absolute deadline, not re-armed by each byte.
func TestReadConnectionRequestSlowloris(t *testing.T) {
	client, server := tcpPair(t)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, c := range aliceCR {
			if _, err := client.Write([]byte{c}); err != nil {
				return
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-stop:
				return
			}
		}
	}()
	const deadline = 450 * time.Millisecond
	start := time.Now()
	raw, _, err := ReadConnectionRequest(server, start.Add(deadline))
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout and os.ErrDeadlineExceeded", err)
	}
	if elapsed > deadline+200*time.Millisecond {
		t.Errorf("cut off after %v, want at the %v deadline", elapsed, deadline)
	}
	if len(raw) < 3 || !bytes.Equal(raw, aliceCR[:len(raw)]) {
		t.Errorf("raw = % x, want a prefix of the request of a few bytes", raw)
	}
}

// TestReadConnectionRequestReset: a client resetting the connection
// mid-packet counts as closed, not as a malformed packet.
func TestReadConnectionRequestReset(t *testing.T) {
	client, server := tcpPair(t)
	client.Write(aliceCR[:10])
	time.Sleep(10 * time.Millisecond)
	client.SetLinger(0)
	client.Close()
	_, _, err := ReadConnectionRequest(server, time.Now().Add(time.Second))
	if !errors.Is(err, ErrShort) || !(errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) {
		t.Fatalf("err = %v, want ErrShort and EOF", err)
	}
}

// timeoutErr is a net.Error timeout that is not os.ErrDeadlineExceeded.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "custom timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadConnectionConfirm(t *testing.T) {
	rsp := BuildConnectionConfirm(ProtocolSSL)
	tests := []struct {
		name    string
		r       io.Reader
		want    ConnConfirm
		wantErr []error
	}{
		{name: "NEG_RSP", r: bytes.NewReader(rsp), want: ConnConfirm{HasNeg: true, NegType: NegTypeResponse, SelectedProtocol: ProtocolSSL}},
		{name: "other timeout error", r: &errReader{data: rsp[:3], err: timeoutErr{}}, wantErr: []error{ErrTimeout, os.ErrDeadlineExceeded}},
		{name: "other read error", r: &errReader{err: io.ErrClosedPipe}, wantErr: []error{io.ErrClosedPipe}},
		{name: "EOF in the packet", r: bytes.NewReader(rsp[:12]), wantErr: []error{ErrShort, io.ErrUnexpectedEOF}},
		{name: "not a confirm", r: bytes.NewReader(aliceCR), wantErr: []error{ErrNotCC}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadConnectionConfirm(tc.r)
			for _, w := range tc.wantErr {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want it to wrap %v", err, w)
				}
			}
			if tc.wantErr == nil && err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestReadConnectionConfirmLeavesTheRest: like the request, the confirm is
// read exactly.
func TestReadConnectionConfirmLeavesTheRest(t *testing.T) {
	r := bytes.NewReader(append(BuildConnectionConfirm(ProtocolHybrid), "TLS"...))
	if _, err := ReadConnectionConfirm(r); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "TLS" {
		t.Fatalf("rest %q", rest)
	}
}

// TestReadConnectionRequestInTwoParts: a packet whose first part is there
// at once and whose rest comes later is read whole (the read without
// waiting, then reads under the deadline), and the deadline is cleared.
func TestReadConnectionRequestInTwoParts(t *testing.T) {
	client, server := tcpPair(t)
	if _, err := client.Write(aliceCR[:7]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the first part is there when the read starts
	go func() {
		time.Sleep(50 * time.Millisecond)
		client.Write(aliceCR[7:])
	}()
	const deadline = 300 * time.Millisecond
	raw, req, err := ReadConnectionRequest(server, time.Now().Add(deadline))
	if err != nil || !bytes.Equal(raw, aliceCR) || req.Cookie != "alice" {
		t.Fatalf("raw % x, req %+v, err %v", raw, req, err)
	}
	// No deadline left behind: a read that still waits past it succeeds.
	go func() {
		time.Sleep(deadline + 100*time.Millisecond)
		client.Write([]byte("x"))
	}()
	b := make([]byte, 1)
	if _, err := server.Read(b); err != nil {
		t.Fatalf("read after the packet: %v", err)
	}
}
