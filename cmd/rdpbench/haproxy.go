package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// startHAProxy runs HAProxy with the seed's RDP setup: inspect the first
// packet for up to 2s, accept when an RDP cookie is there, leastconn, a
// string stick table on rdp_cookie(mstshash) with 8h expiry, TCP health
// checks every 3s with rise 2 fall 3. Logging goes nowhere, as in the seed
// (log global without a syslog target). maxconn is haproxyMaxconn's.
func startHAProxy(bin, dir string, farm []string, maxconn int) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn %d
defaults
    mode tcp
    timeout connect 4s
    timeout client 8h
    timeout server 8h
frontend fr_rdp
    bind %s
    tcp-request inspect-delay 2s
    tcp-request content accept if RDP_COOKIE
    default_backend bk_rdp
backend bk_rdp
    balance leastconn
    stick-table type string len 32 size 10k expire 8h
    stick on rdp_cookie(mstshash)
    option tcp-check
    tcp-check connect
    default-server inter 3s rise 2 fall 3
`, maxconn, addr)
	for i, a := range farm {
		fmt.Fprintf(&b, "    server ts%02d %s weight 10 check\n", i+1, a)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "haproxy.log")
	// -db: foreground, no daemon; one process, one thread per CPU (2.6's default).
	p, err := startProcess("haproxy", addr, logPath, bin, "-db", "-f", cfg)
	if err != nil {
		return nil, err
	}
	if err := waitPort(addr, 10*time.Second); err != nil {
		p.Stop()
		return nil, fmt.Errorf("haproxy did not listen (log %s): %w", logPath, err)
	}
	return p, nil
}
