package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The flood workload: floodConns connections from floodSource that send
// nothing, each opened again floodReconnect after the proxy closes it,
// while real clients arrive at floodRate/s from 127.0.0.1 (issue 18).
const (
	floodConns     = 3000
	floodSource    = "127.0.0.5"
	floodReconnect = 500 * time.Millisecond
	floodRate      = 200
)

// floodResult is one repetition of the flood workload on one proxy.
type floodResult struct {
	base, flood cell  // real clients without and with the flood
	lines       int   // lines the proxy logged during the flood phase
	dials       int64 // connections the flood opened
}

// floodRun measures proxy name, freshly started on farm (its files in
// dir): real clients at floodRate/s alone, then under the flood.
func (b *bench) floodRun(name, dir string, farm []string, logins [][]byte) (floodResult, error) {
	var t target
	var err error
	if name == "rdpbroker" {
		t, err = startBrokerLevel(b.brokerBin, dir, farm, false, "info", b.cpus.proxy) // rejected lines are info
	} else {
		t, err = b.startTarget(name, dir, farm)
	}
	if err != nil {
		return floodResult{}, err
	}
	defer t.Stop()
	logPath := filepath.Join(dir, name+".log")
	var r floodResult
	// The real clients dial from 127.0.0.1 (nil sources), the flood from
	// floodSource: the workload is about per-source fairness.
	r.base = openLoop(t, floodRate, nil, b.warmup, b.duration, logins)
	before := countLines(logPath)
	ctx, cancel := context.WithCancel(context.Background())
	dials, wait := silentFlood(ctx, t.Addr(), floodConns)
	for deadline := time.Now().Add(10 * time.Second); dials.Load() < floodConns && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	r.flood = openLoop(t, floodRate, nil, b.warmup, b.duration, logins)
	r.lines = countLines(logPath) - before
	r.dials = dials.Load()
	cancel()
	wait()
	return r, nil
}

// silentFlood keeps n connections from floodSource to addr, sending
// nothing; one the proxy closes is opened again after floodReconnect.
// dials counts the connections opened; wait returns once ctx ended and
// every connection is closed.
func silentFlood(ctx context.Context, addr string, n int) (dials *atomic.Int64, wait func()) {
	dials = new(atomic.Int64)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(floodSource)}, Timeout: 2 * time.Second}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1)
			for ctx.Err() == nil {
				if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
					dials.Add(1)
					stop := context.AfterFunc(ctx, func() { c.Close() })
					c.Read(buf) // until the proxy, or ctx, closes it
					stop()
					c.Close()
				}
				select {
				case <-ctx.Done():
				case <-time.After(floodReconnect):
				}
			}
		}()
	}
	return dials, wg.Wait
}

func countLines(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(data, []byte("\n"))
}

func floodTable(s *strings.Builder, b *bench) {
	fmt.Fprintf(s, "#### Silent flood from one address\n\n%d connections from %s send nothing and reconnect %v after each close, "+
		"while real clients start at %d/s from 127.0.0.1 (open loop, time to Connection Confirm from the scheduled start). "+
		"Each proxy freshly started with its default limits (rdpbroker: max_pending 1024, 256 per source, connections over the share held unread for 5-10 inspect_timeouts; log level info). "+
		"Log lines: what the proxy wrote during the flood phase (HAProxy logs nowhere, as in the seed).\n\n",
		floodConns, floodSource, floodReconnect, floodRate)
	s.WriteString("| target | real clients | refused | CC p99 ms alone | CC p99 ms under flood | p99 flood / alone | flood connections | log lines |\n")
	s.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range b.proxies() {
		rs := b.floods[t]
		if len(rs) == 0 {
			continue
		}
		col := func(f func(floodResult) float64, unit func(float64) string) string {
			cs := make([]cell, len(rs))
			for i, r := range rs {
				cs[i] = cell{rssPerSession: f(r)} // a float carrier for rangeOf
			}
			return rangeOf(cs, func(c cell) float64 { return c.rssPerSession }, unit)
		}
		fmt.Fprintf(s, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", t,
			col(func(r floodResult) float64 { return float64(r.flood.conns) + float64(r.flood.errors) }, f0),
			col(func(r floodResult) float64 { return float64(r.flood.errors) }, f0),
			col(func(r floodResult) float64 { return float64(r.base.p99) }, ms),
			col(func(r floodResult) float64 { return float64(r.flood.p99) }, ms),
			col(func(r floodResult) float64 { return float64(r.flood.p99) / max(float64(r.base.p99), 1) }, f2),
			col(func(r floodResult) float64 { return float64(r.dials) }, f0),
			col(func(r floodResult) float64 { return float64(r.lines) }, f0))
	}
	s.WriteString("\n")
}
