package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// The udp workload (issue 19): flows of RDP-UDP-sized datagrams echoed by
// a UDP server in this process, directly and through rdpbroker's UDP relay
// (each flow tied to a TCP session through the broker by its correlation
// id). Each flow keeps udpWindow datagrams in flight.
const (
	udpPayload = 1000
	udpWindow  = 8
)

var udpFlowCounts = []int{1, 8}

// udpCPU is the proxy's CPU in µs per relayed datagram of a udp cell
// (conns: round trips, each two relayed datagrams; errors: lost).
func udpCPU(c cell) float64 { return 1e6 * c.cpu.total() / float64(max(2*c.conns, 1)) }

// udpRun measures every flow count on direct and rdpbroker, interleaved,
// and returns the report's table.
func (b *bench) udpRun(dir string, farm []string) (string, error) {
	echo, err := startUDPEcho()
	if err != nil {
		return "", err
	}
	defer echo.Close()
	p, err := startUDPBroker(b.brokerBin, b.tmp(dir, "udp-rdpbroker"), farm[0], echo.LocalAddr().String(), b.cpus.proxy)
	if err != nil {
		return "", err
	}
	defer p.Stop()
	res := map[string][]cell{}
	for _, n := range udpFlowCounts {
		for r := 0; r < b.repeat; r++ {
			for _, t := range []string{"direct", "rdpbroker"} {
				c, err := b.udpCell(t, p, echo.LocalAddr().String(), n)
				if err != nil {
					return "", err
				}
				k := fmt.Sprintf("%d/%s", n, t)
				res[k] = append(res[k], c)
				b.progress("%-9s %-8d %-10s rep=%d  %8.0f rtt/s cpu=%.2f µs/datagram lost=%d", "udp", n, t, r+1,
					c.rate(), udpCPU(c), c.errors)
			}
		}
	}
	return udpTable(res), nil
}

// udpCell runs n flows to target t for warmup + duration.
func (b *bench) udpCell(t string, p *process, echo string, n int) (cell, error) {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	flows := make([]*net.UDPConn, n)
	for i := range flows {
		var id [16]byte
		id[0], id[1], id[2] = 0x42, byte(i), byte(time.Now().UnixNano())
		to := echo
		if t == "rdpbroker" {
			c, err := udpSession(p.Addr(), fmt.Sprintf("udpbench%d", i), id)
			if err != nil {
				return cell{}, err
			}
			conns = append(conns, c)
			to = p.Addr()
		}
		u, err := udpFlow(to, id)
		if err != nil {
			return cell{}, fmt.Errorf("udp %s: %w", t, err)
		}
		conns = append(conns, u)
		flows[i] = u
	}
	var rtts, lost atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, u := range flows {
		wg.Add(1)
		go func() { defer wg.Done(); udpLoop(u, &stop, &rtts, &lost) }()
	}
	time.Sleep(b.warmup)
	r0, l0, cpu0, t0 := rtts.Load(), lost.Load(), procCPU(p.Pid()), time.Now()
	time.Sleep(b.duration)
	c := cell{conns: int(rtts.Load() - r0), errors: lost.Load() - l0, elapsed: time.Since(t0)}
	if t == "rdpbroker" {
		c.cpu = procCPU(p.Pid()).sub(cpu0)
	}
	stop.Store(true)
	wg.Wait()
	return c, nil
}

// udpSession opens the TCP session a flow belongs to: a Connection
// Request with a cookie and correlation id, its Connection Confirm read.
func udpSession(addr, login string, id [16]byte) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(3 * time.Second))
	cr := rdp.BuildConnectionRequest(rdp.ConnRequest{Cookie: login, Token: rdp.RoutingToken{Kind: rdp.TokenCookie,
		Raw: rdp.CookiePrefix + login}, HasNegReq: true, RequestedProtocols: rdp.ProtocolSSL, HasCorrelation: true, CorrelationID: id})
	if _, err := c.Write(cr); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := rdp.ReadConnectionConfirm(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("udp session: connection confirm: %w", err)
	}
	return c, nil
}

// udpFlow opens a flow to addr with a SYN carrying id, resent until echoed.
func udpFlow(addr string, id [16]byte) (*net.UDPConn, error) {
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	u, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		return nil, err
	}
	syn := rdp.BuildUDPSyn(rdp.UDPSyn{ReceiveWindowSize: 64, UpStreamMTU: rdp.UDPMaxMTU, DownStreamMTU: rdp.UDPMaxMTU,
		HasCorrelation: true, CorrelationID: id})
	buf := make([]byte, 2048)
	for range 50 {
		u.Write(syn)
		u.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := u.Read(buf); err == nil {
			return u, nil
		}
	}
	u.Close()
	return nil, errors.New("udp flow: SYN never echoed")
}

// udpLoop keeps udpWindow datagrams in flight on u until stop: each echo
// sends the next; a read timeout counts one lost and sends one more.
func udpLoop(u *net.UDPConn, stop *atomic.Bool, rtts, lost *atomic.Int64) {
	payload := make([]byte, udpPayload)
	payload[7] = byte(rdp.UDPFlagAck) // an RDPUDP_FEC_HEADER after the SYN
	buf := make([]byte, 2048)
	for range udpWindow {
		u.Write(payload)
	}
	for !stop.Load() {
		u.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := u.Read(buf); err != nil {
			lost.Add(1)
		} else {
			rtts.Add(1)
		}
		u.Write(payload)
	}
}

// startUDPEcho is the servers' UDP side: it echoes every datagram.
func startUDPEcho() (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	c.SetReadBuffer(4 << 20)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return c, nil
}

// startUDPBroker runs rdpbroker with udp enabled: one server (tcp, its
// UDP side at echo), no health check; on cpus (nil: wherever).
func startUDPBroker(bin, dir, server, echo string, cpus []int) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var s strings.Builder
	fmt.Fprintf(&s, "listen: %s\ninspect_timeout: 2s\nstate_dir: %s\ndefault_pool: farm\n", addr, dir)
	s.WriteString("admin: {socket: \"\", http: \"\"}\nlog: {level: warn}\nudp: {enabled: true}\n")
	fmt.Fprintf(&s, "pools:\n  - name: farm\n    health: {check: none}\n    servers:\n      - {name: ts01, address: %q, udp_address: %q}\n", server, echo)
	cfg := filepath.Join(dir, "rdpbroker.yaml")
	if err := os.WriteFile(cfg, []byte(s.String()), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "rdpbroker.log")
	p, err := startProcess("rdpbroker", addr, logPath, cpus, bin, "serve", "--config", cfg)
	if err != nil {
		return nil, err
	}
	if err := waitPort(addr, 10*time.Second); err != nil {
		p.Stop()
		return nil, fmt.Errorf("rdpbroker did not listen (log %s): %w", logPath, err)
	}
	return p, nil
}

// udpTable renders the udp workload: median [min-max] of the repetitions.
func udpTable(res map[string][]cell) string {
	var s strings.Builder
	fmt.Fprintf(&s, "#### RDP-UDP relay\n\nEach flow keeps %d datagrams of %d bytes in flight to a UDP echo server in the benchmark process, "+
		"directly or through rdpbroker's UDP relay (flow tied to a TCP session by its correlation id). "+
		"A round trip is two relayed datagrams; proxy CPU is rdpbroker's user + sys per relayed datagram.\n\n", udpWindow, udpPayload)
	s.WriteString("| flows | target | round trips/s | ratio to direct | proxy CPU µs / datagram | lost |\n|---:|---|---:|---:|---:|---:|\n")
	rate := func(c cell) float64 { return c.rate() }
	for _, n := range udpFlowCounts {
		direct := median(res[fmt.Sprintf("%d/direct", n)], rate)
		for _, t := range []string{"direct", "rdpbroker"} {
			cells := res[fmt.Sprintf("%d/%s", n, t)]
			if len(cells) == 0 {
				continue
			}
			ratio, cpuCell := "1.00", "-"
			if t != "direct" {
				ratio = fmt.Sprintf("%.2f", median(cells, rate)/direct)
				cpuCell = rangeOf(cells, udpCPU, f2)
			}
			fmt.Fprintf(&s, "| %d | %s | %s | %s | %s | %d |\n", n, t, rangeOf(cells, rate, f0), ratio, cpuCell, errSum(cells))
		}
	}
	return s.String()
}
