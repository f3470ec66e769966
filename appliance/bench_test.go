package appliance

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// BenchmarkConnect measures one client connection through the broker, up
// to the Connection Confirm, against fake servers in the same process
// (`go test -bench Connect -cpuprofile cpu.out ./appliance` to profile the
// accept path). rdpbench measures the real binary against a direct path.
func BenchmarkConnect(b *testing.B) {
	s := farm(b, "ts01", "ts02", "ts03", "ts04")
	path := writeConfig(b, routedConfig, s, "{{no_cookie}}", "default")
	cfg, err := LoadConfig(path)
	if err != nil {
		b.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	br, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})), Listener: ln})
	if err != nil {
		b.Fatal(err)
	}
	go br.Run(b.Context())
	<-br.Ready()
	cr := rdp.BuildConnectionRequest(rdp.ConnRequest{Cookie: "alice", Token: rdp.RoutingToken{Kind: rdp.TokenCookie, Raw: "Cookie: mstshash=alice"}, HasNegReq: true, RequestedProtocols: 3})
	buf := make([]byte, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(cr)
		if _, err := io.ReadFull(c, buf[:19]); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
