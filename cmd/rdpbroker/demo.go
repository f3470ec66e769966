package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

//go:embed demo.yaml
var demoConfig string

// cmdDemo is `rdpbroker demo [--listen ADDR]`: four fake terminal
// servers, the broker on the embedded demo configuration (with its status
// page), and a few sample clients so the log shows logins being routed. It
// runs until SIGINT/SIGTERM.
func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:13389", "client-facing address")
	status := fs.String("status", "127.0.0.1:19000", "the status page and /metrics (admin.http)")
	if err := parseFlags(fs, args); err != nil {
		return 2
	}
	return exitErr(stderr, "demo", demo(context.Background(), *listen, *status, stderr))
}

func demo(ctx context.Context, listen, status string, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "rdpbroker-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)
	repl := []string{"{{listen}}", listen, "{{state_dir}}", dir, "{{status}}", status,
		"{{socket}}", filepath.Join(dir, "admin.sock")}
	for _, name := range []string{"ts01", "ts02", "ts03", "ts04"} {
		srv, err := rdptest.Start(rdptest.Config{Name: name})
		if err != nil {
			return fmt.Errorf("demo: fake server %s: %w", name, err)
		}
		defer srv.Close()
		repl = append(repl, "{{"+name+"}}", srv.Addr())
	}
	path := filepath.Join(dir, "rdpbroker.yaml")
	if err := os.WriteFile(path, []byte(strings.NewReplacer(repl...).Replace(demoConfig)), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return runService(ctx, path, stderr, func(b *appliance.Broker, logger *slog.Logger) {
		fmt.Fprintf(stderr, "\n== rdpbroker demo on %s, config %s, status page http://%s/\n", b.Addr(), path, status)
		fmt.Fprintln(stderr, "== sample clients: alice, CORP\\bob -> sales; carol -> accounting (group); erin -> general;")
		fmt.Fprintln(stderr, "==   a Sales collection token -> sales; no cookie -> general; a TLS ClientHello -> rejected")
		demoClients(b.Addr().String(), logger)
		fmt.Fprintf(stderr, "== now point an RDP client at %s (e.g. xfreerdp /v:%s /u:alice); the fake servers\n", b.Addr(), b.Addr())
		fmt.Fprintln(stderr, "== answer the X.224 handshake only, but the broker log shows where each login went. Ctrl-C stops.")
	})
}

func demoClients(addr string, logger interface{ Info(string, ...any) }) {
	for _, login := range []string{"alice", `CORP\bob`, "carol", "erin", "dave@corp.example.test"} {
		if c, _, err := rdptest.Dial(addr, login, 3*time.Second); err == nil {
			c.Close()
		}
	}
	sendRaw(addr, rdp.BuildConnectionRequest(rdp.ConnRequest{
		Token:     rdp.RoutingToken{Kind: rdp.TokenTSV, Raw: "tsv://MS Terminal Services Plugin.1.Sales", Collection: "Sales"},
		HasNegReq: true, RequestedProtocols: rdp.ProtocolSSL,
	}))
	sendRaw(addr, rdp.BuildConnectionRequest(rdp.ConnRequest{HasNegReq: true, RequestedProtocols: rdp.ProtocolSSL}))
	sendRaw(addr, []byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00})
	time.Sleep(100 * time.Millisecond) // let the session lines reach the log before the banner
}

func sendRaw(addr string, b []byte) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write(b)
	buf := make([]byte, 64)
	c.Read(buf)
}
