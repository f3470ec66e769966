package rdptest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

func TestEchoServer(t *testing.T) {
	srv := NewServer(t, Config{Name: "ts01"})
	c, cc, err := Dial(srv.Addr(), "alice", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if want := (rdp.ConnConfirm{HasNeg: true, NegType: rdp.NegTypeResponse, SelectedProtocol: rdp.ProtocolSSL}); cc != want {
		t.Errorf("confirm %+v, want %+v", cc, want)
	}
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	go func() {
		c.Write(payload)
		c.(*net.TCPConn).CloseWrite() // the echo must still come back whole
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echo: %d bytes back of %d, equal=%v", len(got), len(payload), bytes.Equal(got, payload))
	}
	seen := srv.Seen()
	if len(seen) != 1 || seen[0].Cookie != "alice" || seen[0].RequestedProtocols != ClientProtocols || srv.Count() != 1 {
		t.Errorf("seen %+v, count %d", seen, srv.Count())
	}
	if srv.Name() != "ts01" {
		t.Errorf("Name = %q", srv.Name())
	}
}

func TestServerAnswers(t *testing.T) {
	tsv := rdp.ConnRequest{Token: rdp.RoutingToken{Kind: rdp.TokenTSV, Raw: rdp.TSVPrefix + "Sales", Collection: "Sales"},
		HasNegReq: true, RequestedProtocols: rdp.ProtocolSSL}
	tests := []struct {
		name    string
		cfg     Config
		req     rdp.ConnRequest
		want    rdp.ConnConfirm
		wantErr bool
	}{
		{name: "routing token recorded", req: tsv,
			want: rdp.ConnConfirm{HasNeg: true, NegType: rdp.NegTypeResponse, SelectedProtocol: rdp.ProtocolSSL}},
		{name: "selected protocol", cfg: Config{Selected: rdp.ProtocolHybrid}, req: tsv,
			want: rdp.ConnConfirm{HasNeg: true, NegType: rdp.NegTypeResponse, SelectedProtocol: rdp.ProtocolHybrid}},
		{name: "no RDP_NEG_REQ gets a bare confirm", req: rdp.ConnRequest{Cookie: "bob",
			Token: rdp.RoutingToken{Kind: rdp.TokenCookie, Raw: "Cookie: mstshash=bob"}}, want: rdp.ConnConfirm{}},
		{name: "negotiation failure", cfg: Config{Failure: rdp.FailureHybridRequired}, req: tsv, wantErr: true,
			want: rdp.ConnConfirm{HasNeg: true, NegType: rdp.NegTypeFailure, FailureCode: rdp.FailureHybridRequired}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewServer(t, tc.cfg)
			c, cc, err := DialRequest(srv.Addr(), tc.req, 2*time.Second)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if c != nil {
				c.Close()
			}
			if cc != tc.want {
				t.Errorf("confirm %+v, want %+v", cc, tc.want)
			}
			if seen := srv.Seen(); len(seen) != 1 || seen[0] != tc.req {
				t.Errorf("seen %+v, want [%+v]", seen, tc.req)
			}
		})
	}
}

func TestDialWithoutCookie(t *testing.T) {
	srv := NewServer(t, Config{})
	c, _, err := Dial(srv.Addr(), "", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if seen := srv.Seen(); len(seen) != 1 || seen[0].Cookie != "" || seen[0].Token.Kind != rdp.TokenNone || !seen[0].HasNegReq {
		t.Fatalf("seen %+v", seen)
	}
}

func TestModes(t *testing.T) {
	tests := []struct {
		mode     Mode
		wantRead func(t *testing.T, c net.Conn)
	}{
		{Sink, func(t *testing.T, c net.Conn) {
			c.Write([]byte("ping"))
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if n, err := c.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("sink answered: %d bytes, %v", n, err)
			}
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if n, err := c.Read(make([]byte, 4)); err != io.EOF {
				t.Errorf("sink after half-close: %d bytes, %v; want EOF", n, err)
			}
		}},
		{Hangup, func(t *testing.T, c net.Conn) {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if n, err := c.Read(make([]byte, 4)); err != io.EOF {
				t.Errorf("hangup: %d bytes, %v; want EOF", n, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.mode.String(), func(t *testing.T) {
			srv := NewServer(t, Config{Mode: tc.mode})
			c, _, err := Dial(srv.Addr(), "alice", 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc.wantRead(t, c)
		})
	}
}

func TestSilentServer(t *testing.T) {
	srv := NewServer(t, Config{Mode: Silent})
	start := time.Now()
	_, _, err := Dial(srv.Addr(), "alice", 200*time.Millisecond)
	if !errors.Is(err, rdp.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Dial took %v", d)
	}
	if srv.Count() != 1 {
		t.Errorf("silent server saw %d requests, want 1", srv.Count())
	}
}

func TestAcceptDelay(t *testing.T) {
	srv := NewServer(t, Config{AcceptDelay: 150 * time.Millisecond})
	start := time.Now()
	c, _, err := Dial(srv.Addr(), "alice", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("confirm after %v, want after the 150ms delay", d)
	}
}

func TestBadRequestIsNotRecorded(t *testing.T) {
	srv := NewServer(t, Config{})
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("server answered %d bytes to HTTP", n)
	}
	if srv.Count() != 0 {
		t.Errorf("count %d, want 0", srv.Count())
	}
}

func TestCloseEndsConnections(t *testing.T) {
	srv, err := Start(Config{Name: "ts09"})
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 3 {
		c, _, err := Dial(srv.Addr(), "alice", 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	idle, err := net.Dial("tcp", srv.Addr()) // never sends its request
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	EventuallyWhy(t, 2*time.Second, func() string {
		if n := srv.Active(); n != 4 {
			return fmt.Sprintf("active = %d, want 4", n)
		}
		return ""
	})
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not return")
	}
	for i, c := range append(conns, idle) {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("conn %d still open after Close: %v", i, err)
		}
	}
	if srv.Active() != 0 {
		t.Errorf("active = %d after Close", srv.Active())
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if c, _, err := Dial(srv.Addr(), "alice", 500*time.Millisecond); err == nil {
		c.Close()
		t.Error("Dial succeeded after Close")
	}
}

func TestConcurrentClients(t *testing.T) {
	srv := NewServer(t, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := Dial(srv.Addr(), string(rune('a'+i)), 2*time.Second)
			if err != nil {
				errs <- err
				return
			}
			c.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if srv.Count() != 20 || len(srv.Seen()) != 20 {
		t.Errorf("count %d, seen %d, want 20", srv.Count(), len(srv.Seen()))
	}
}

func TestStartError(t *testing.T) {
	if _, err := Start(Config{Addr: "256.0.0.1:0", Name: "bad"}); err == nil {
		t.Fatal("Start on a bad address succeeded")
	}
}

// fakeTB records a failure instead of ending the test.
type fakeTB struct {
	fatal    string
	args     []any
	cleanups []func()
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal, f.args = format, args }
func (f *fakeTB) Cleanup(fn func())                 { f.cleanups = append(f.cleanups, fn) }

func TestNewServerCleanup(t *testing.T) {
	tb := &fakeTB{}
	srv := NewServer(tb, Config{})
	if tb.fatal != "" || len(tb.cleanups) != 1 {
		t.Fatalf("fatal %q, %d cleanups", tb.fatal, len(tb.cleanups))
	}
	tb.cleanups[0]()
	if _, err := net.DialTimeout("tcp", srv.Addr(), 500*time.Millisecond); err == nil {
		t.Fatal("server still listening after cleanup")
	}
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{Echo: "echo", Sink: "sink", Hangup: "hangup", Silent: "silent", 9: "Mode(9)"} {
		if m.String() != want {
			t.Errorf("%d: %q, want %q", m, m.String(), want)
		}
	}
}
