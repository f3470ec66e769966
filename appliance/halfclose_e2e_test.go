package appliance

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

const halfCloseConfig = `
listen: 127.0.0.1:0
state_dir: "{{state_dir}}"
half_close_timeout: 300ms
default_pool: general
pools:
  - name: general
    health: {check: none}
    servers:
      - {name: stubborn, address: "{{stubborn}}"}
`

// stubbornServer answers the Connection Request, then reads until EOF and
// never closes its side (xrdp does this while it waits for sesman).
func stubbornServer(t *testing.T) string {
	t.Helper()
	hold := make(chan struct{})
	addr := rdptest.Serve(t, func(c net.Conn) {
		if _, _, err := rdp.ReadConnectionRequest(c, time.Now().Add(5*time.Second)); err != nil {
			return
		}
		c.Write(rdp.BuildConnectionConfirm(rdp.ProtocolSSL))
		io.Copy(io.Discard, c)
		<-hold
	})
	t.Cleanup(func() { close(hold) }) // before Serve's: the handlers end, then the listener closes
	return addr
}

func TestHalfCloseTimeoutEndsSessionsServersDoNotClose(t *testing.T) {
	path := writeConfig(t, halfCloseConfig, nil, "{{stubborn}}", stubbornServer(t))
	b := startBroker(t, path)
	c, _, err := rdptest.Dial(b.addr, "alice", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rdptest.Eventually(t, 2*time.Second, "session active", func() bool { return b.Counters().Active.Load() == 1 })
	closed := time.Now()
	c.Close()
	rdptest.Eventually(t, 3*time.Second, "session ended after half_close_timeout", func() bool {
		return b.Counters().Active.Load() == 0
	})
	if took := time.Since(closed); took > 2*time.Second {
		t.Errorf("session slot held %v after the client left, want ~300ms", took)
	}
	rdptest.Eventually(t, 2*time.Second, "session line", func() bool { return len(b.log.Messages("session")) == 1 })
	if line := b.log.Messages("session")[0]; !strings.Contains(line, "end=client_closed") || strings.Contains(line, "token=") {
		t.Errorf("session line: %s", line)
	}
}
