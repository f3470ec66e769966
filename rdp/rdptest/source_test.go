package rdptest

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

func TestSourceServer(t *testing.T) {
	srv := NewServer(t, Config{Name: "ts01", Mode: Source})
	c, _, err := Dial(srv.Addr(), "alice", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	const want = 3 << 20 // more than one chunk
	n, err := io.CopyN(io.Discard, c, want)
	if err != nil || n != want {
		t.Fatalf("read %d of %d: %v", n, want, err)
	}
	c.Close()
	if ok, _ := Poll(2*time.Second, func() (bool, string) { return srv.Active() == 0, "" }); !ok {
		t.Errorf("%d connections still active after the client closed", srv.Active())
	}
	if Source.String() != "source" {
		t.Errorf("Source.String() = %q", Source.String())
	}
}

func TestModeFor(t *testing.T) {
	srv := NewServer(t, Config{Mode: Silent, ModeFor: func(req rdp.ConnRequest) Mode {
		if strings.HasPrefix(req.Cookie, "src") {
			return Source
		}
		return Hangup
	}})
	// "src..." gets a confirm (not Silent) and then data.
	c, _, err := Dial(srv.Addr(), "src1", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.CopyN(io.Discard, c, 1<<20); err != nil || n != 1<<20 {
		t.Fatalf("source: %d bytes: %v", n, err)
	}
	c.Close()
	// Anything else is hung up on right after the confirm.
	c, _, err = Dial(srv.Addr(), "bob", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
		t.Fatalf("hangup: %d bytes, err %v; want a clean EOF", n, err)
	}
}
