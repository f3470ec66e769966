package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// openLoop connects a real client to addr every 1/rate for d, each
// reading its Connection Confirm and leaving; it returns the handshake
// times of those served and how many were refused.
func openLoop(addr string, rate int, d time.Duration) (times []time.Duration, refused int) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			c, _, err := rdptest.Dial(addr, fmt.Sprintf("user%03d", i%500), 5*time.Second)
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused++
				return
			}
			c.Close()
			times = append(times, took)
		}()
	}
	wg.Wait()
	return times, refused
}

func p99(ts []time.Duration) time.Duration { return quantile(ts, 0.99) }

func quantile(ts []time.Duration, q float64) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	s := slices.Clone(ts)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*q)]
}

// silentFlood keeps n connections from src to addr open, sending nothing;
// each one the broker closes is opened again after reconnect. It returns
// how many are open, and stops when ctx ends.
func silentFlood(ctx context.Context, src, addr string, n int, reconnect time.Duration) (open *atomic.Int64, dials *atomic.Int64, wait func()) {
	open, dials = new(atomic.Int64), new(atomic.Int64)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1)
			for ctx.Err() == nil {
				dials.Add(1)
				c, err := d.DialContext(ctx, "tcp", addr)
				if err == nil {
					open.Add(1)
					stop := context.AfterFunc(ctx, func() { c.Close() })
					c.Read(buf) // until the broker (or ctx) closes it
					stop()
					c.Close()
					open.Add(-1)
				}
				select {
				case <-ctx.Done():
				case <-time.After(reconnect):
				}
			}
		}()
	}
	return open, dials, wg.Wait
}

// TestSilentFloodFromOneAddress: 3,000 connections from 127.0.0.5 that
// send nothing (then reconnect 0.5 s after each close) while real clients
// connect at 200/s from 127.0.0.1, default limits: no real client is
// refused, none waits behind the flood (the p99 ratio itself is
// rdpbench's flood workload), and the broker's log stays bounded.
func TestSilentFloodFromOneAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 connections: not with -short")
	}
	const (
		floodConns = 3000
		rate       = 200
		phase      = 3 * time.Second
	)
	dir := t.TempDir()
	bin, err := buildBroker(dir)()
	if err != nil {
		t.Fatal(err)
	}
	srv := rdptest.NewServer(t, rdptest.Config{Name: "ts01", Mode: rdptest.Hangup})
	b := startBroker(t, bin, "broker", func(listen string) string {
		return fmt.Sprintf(`
listen: %s
state_dir: %q
default_pool: farm
pools:
  - name: farm
    health: {check: none}
    servers: [{name: ts01, address: %q}]
`, listen, filepath.Join(dir, "state"), srv.Addr())
	})
	addr := fmt.Sprintf("127.0.0.1:%d", b.port)

	base, refused := openLoop(addr, rate, phase)
	if refused > 0 || len(base) == 0 {
		t.Fatalf("baseline: %d refused, %d served\n%s", refused, len(base), b.proc.describe())
	}
	linesBefore := strings.Count(b.log(), "\n")

	ctx, cancel := context.WithCancel(context.Background())
	open, dials, wait := silentFlood(ctx, "127.0.0.5", addr, floodConns, 500*time.Millisecond)
	t.Cleanup(func() { cancel(); wait() })
	rdptest.Eventually(t, 10*time.Second, "the flood's connections", func() bool { return dials.Load() >= floodConns })
	times, refused := openLoop(addr, rate, 2*phase)
	floodDials := dials.Load()
	cancel()
	wait()

	log := b.log()
	lines := strings.Count(log, "\n") - linesBefore
	sessions := len(logLines(log, "session")) - len(base)
	t.Logf("under flood: p50 %v p90 %v max %v", quantile(times, .5), quantile(times, .9), quantile(times, 1))
	t.Logf("baseline p99 %v (%d clients); under flood p99 %v (%d served, %d refused); flood: %d dials, %d open at the end; %d log lines (%d sessions)",
		p99(base), len(base), p99(times), len(times), refused, floodDials, open.Load(), lines, sessions)
	if refused > 0 {
		t.Errorf("%d real clients refused under the flood, want 0\n%s", refused, tail(log, 30))
	}
	// The latency goal (p99 under the flood < 2x the baseline) is a speed
	// target: rdpbench's flood workload measures it beside HAProxy
	// (docs/benchmarks.md). Here, on a CI machine whose two cores also run
	// the flood, only a lockout fails: real clients waiting for their
	// Connection Confirm as long as the flood's silent connections are held.
	if limit := max(20*p99(base), 500*time.Millisecond); p99(times) > limit {
		t.Errorf("Connection Confirm p99 under the flood %v > %v (baseline %v): real clients wait behind the flood", p99(times), limit, p99(base))
	}
	// One line per real session, plus the rate-limited refusals: 20 per
	// reason per 10 s and one summary each.
	if extra := lines - sessions; extra > 200 {
		t.Errorf("%d log lines besides the %d sessions during the flood (%d flood connections), want <= 200\n%s",
			extra, sessions, floodDials, tail(log, 30))
	}
	if !strings.Contains(log, "reason=source_limit") {
		t.Errorf("no source_limit refusal logged\n%s", tail(log, 30))
	}
}
