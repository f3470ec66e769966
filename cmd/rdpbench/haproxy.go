package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// haproxySetup is how a HAProxy target is configured.
type haproxySetup struct {
	// best adds what the seed's config leaves out and a tuned HAProxy
	// would have: forced splice both ways and one thread per CPU given.
	best     bool
	nbthread int // best: threads (the CPUs the proxy runs on)
	maxpipes int // best: haproxyMaxpipes's
	maxconn  int // haproxyMaxconn's
	cpus     []int
}

// startHAProxy runs HAProxy on haproxyConfig's config in front of farm, its
// files in dir, on s.cpus.
func startHAProxy(name, bin, dir string, farm []string, s haproxySetup) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(haproxyConfig(s, addr, farm)), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "haproxy.log")
	// -db: foreground, no daemon.
	p, err := startProcess(name, addr, logPath, s.cpus, bin, "-db", "-f", cfg)
	if err != nil {
		return nil, err
	}
	if err := waitPort(addr, 10*time.Second); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%s did not listen (log %s): %w", name, logPath, err)
	}
	return p, nil
}

// haproxyConfig is the seed's RDP setup: inspect the first packet for up to
// 2s, accept when an RDP cookie is there, leastconn, a string stick table
// on rdp_cookie(mstshash) with 8h expiry, TCP health checks every 3s with
// rise 2 fall 3; logging goes nowhere, as in the seed (log global without
// a syslog target); one process, one thread per CPU it may run on (2.6's
// default), no splice (2.6 splices only when told to). The best setup adds
// nbthread and `option splice-request` / `option splice-response`, which
// make HAProxy move the bytes with splice(2) whenever it can (splice-auto
// would only when it guesses it pays), with the pipes the descriptor limit
// leaves (haproxyMaxpipes).
func haproxyConfig(s haproxySetup, addr string, farm []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n    maxconn %d\n", s.maxconn)
	if s.best {
		fmt.Fprintf(&b, "    nbthread %d\n    maxpipes %d\n", s.nbthread, s.maxpipes)
	}
	b.WriteString("defaults\n    mode tcp\n    timeout connect 4s\n    timeout client 8h\n    timeout server 8h\n")
	if s.best {
		b.WriteString("    option splice-request\n    option splice-response\n")
	}
	fmt.Fprintf(&b, `frontend fr_rdp
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
`, addr)
	for i, a := range farm {
		fmt.Fprintf(&b, "    server ts%02d %s weight 10 check\n", i+1, a)
	}
	return b.String()
}
