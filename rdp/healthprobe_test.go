package rdp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

func TestProbeRequest(t *testing.T) {
	want := rdp.BuildConnectionRequest(rdp.ConnRequest{HasNegReq: true,
		RequestedProtocols: rdp.ProtocolSSL | rdp.ProtocolHybrid | rdp.ProtocolHybridEx})
	if !bytes.Equal(rdp.ProbeRequest, want) {
		t.Fatalf("ProbeRequest = % x, want % x", rdp.ProbeRequest, want)
	}
}

// answer reads the probe's 19 bytes, then writes reply.
func answer(reply []byte) func(net.Conn) {
	return func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.ReadFull(c, make([]byte, len(rdp.ProbeRequest)))
		c.Write(reply)
		io.Copy(io.Discard, c)
	}
}

func TestProbe(t *testing.T) {
	echo := rdptest.NewServer(t, rdptest.Config{Name: "echo"})
	refusing := rdptest.NewServer(t, rdptest.Config{Failure: rdp.FailureHybridRequired})
	silent := rdptest.Serve(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	const timeout = 250 * time.Millisecond
	tests := []struct {
		name     string
		addr     string
		wantErr  []error
		wantStep string // in the error message
		slow     bool   // ends at the timeout
	}{
		{name: "rdptest server", addr: echo.Addr()},
		{name: "negotiation failure is alive", addr: refusing.Addr()},
		{name: "bare confirm is alive", addr: rdptest.Serve(t, answer(rdp.ConnConfirm{}.Marshal()))},
		{name: "xrdp confirm", addr: rdptest.Serve(t, answer([]byte{3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 1, 8, 0, 1, 0, 0, 0}))},
		{name: "accepts and says nothing", addr: silent, slow: true,
			wantErr: []error{rdp.ErrTimeout, context.DeadlineExceeded}, wantStep: ": read confirm: "},
		{name: "closed port", addr: rdptest.FreeAddr(t), wantErr: []error{syscall.ECONNREFUSED}, wantStep: ": dial: "},
		{name: "hangs up", addr: rdptest.Serve(t, func(c net.Conn) {}), wantErr: []error{rdp.ErrShort}, wantStep: ": read confirm: "},
		{name: "speaks HTTP", addr: rdptest.Serve(t, answer([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))),
			wantErr: []error{rdp.ErrNotTPKT}, wantStep: ": read confirm: "},
		{name: "answers a request", addr: rdptest.Serve(t, answer(rdp.ProbeRequest)),
			wantErr: []error{rdp.ErrNotCC}, wantStep: ": parse confirm: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			err := rdp.Probe(ctx, nil, tc.addr)
			elapsed := time.Since(start)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Probe: %v", err)
			}
			for _, w := range tc.wantErr {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want it to wrap %v", err, w)
				}
			}
			if err != nil && !strings.HasPrefix(err.Error(), "rdp: probe "+tc.addr+tc.wantStep) {
				t.Errorf("error %q does not name the address and step %q", err, tc.wantStep)
			}
			if limit := timeout / 2; tc.slow {
				if elapsed < timeout-20*time.Millisecond || elapsed > timeout+200*time.Millisecond {
					t.Errorf("took %v, want the %v timeout", elapsed, timeout)
				}
			} else if elapsed > limit {
				t.Errorf("took %v, want less than %v", elapsed, limit)
			}
		})
	}
}

func TestProbeCancel(t *testing.T) {
	silent := rdptest.Serve(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := rdp.Probe(ctx, nil, silent)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancelled probe returned after %v", d)
	}
}

// recordingConn records its deadline and whether it was closed.
type recordingConn struct {
	net.Conn
	deadline atomic.Value // time.Time
	closed   atomic.Bool
}

func (c *recordingConn) SetDeadline(t time.Time) error {
	if c.deadline.Load() == nil {
		c.deadline.Store(t)
	}
	return c.Conn.SetDeadline(t)
}

func (c *recordingConn) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

// TestProbeDialAndDefaults: the dial function is used, a context without
// deadline gets DefaultProbeTimeout, and the connection is closed whatever
// the outcome.
func TestProbeDialAndDefaults(t *testing.T) {
	srv := rdptest.NewServer(t, rdptest.Config{})
	tests := []struct {
		name    string
		addr    string
		wantErr bool
	}{
		{"alive", srv.Addr(), false},
		{"garbage", rdptest.Serve(t, answer([]byte("nope nope nope"))), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rc *recordingConn
			var gotNetwork string
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				gotNetwork = network
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				rc = &recordingConn{Conn: c}
				return rc, nil
			}
			start := time.Now()
			err := rdp.Probe(context.Background(), dial, tc.addr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if gotNetwork != "tcp" || rc == nil {
				t.Fatalf("dial not used (network %q)", gotNetwork)
			}
			if !rc.closed.Load() {
				t.Error("connection not closed")
			}
			d, _ := rc.deadline.Load().(time.Time)
			if want := start.Add(rdp.DefaultProbeTimeout); d.Before(want.Add(-100*time.Millisecond)) || d.After(want.Add(100*time.Millisecond)) {
				t.Errorf("deadline %v, want about %v", d, want)
			}
		})
	}
}

func TestProbeDialError(t *testing.T) {
	boom := errors.New("boom")
	err := rdp.Probe(context.Background(), func(context.Context, string, string) (net.Conn, error) { return nil, boom }, "ts01:3389")
	if !errors.Is(err, boom) || err.Error() != "rdp: probe ts01:3389: dial: boom" {
		t.Fatalf("err = %v", err)
	}
}
