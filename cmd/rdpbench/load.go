package main

import (
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// cell is one measurement: a target, a workload parameter, one
// repetition. Each workload fills the fields it measures.
type cell struct {
	conns    int // successful connections in the measured window
	errors   int64
	elapsed  time.Duration
	p50, p99 time.Duration
	cpu      cpuTime // proxy CPU time during the measured window

	bytes int64 // bulk: bytes moved in the window

	sessions       int     // idle: sessions held
	rssPerSession  float64 // idle: RSS growth per session, bytes
	fdsPerSession  float64 // idle: descriptors per session
	rssBase, rssAt int64   // idle: RSS before and with the sessions

	reconnects, violations int // sticky

	firstErr string // the first error seen, for the progress line
}

func (c cell) rate() float64 { return float64(c.conns) / c.elapsed.Seconds() }

// mbps is the bulk throughput in MB/s (10^6 bytes).
func (c cell) mbps() float64 { return float64(c.bytes) / 1e6 / c.elapsed.Seconds() }

// percentiles sorts lat and returns its p50 and p99.
func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100]
}

// connRate runs n closed-loop clients against addr for warmup+d, each
// from its source address and ending its connections the cl way, and
// measures the last d.
func connRate(t target, n int, cl closeStyle, src sources, warmup, d time.Duration, logins [][]byte) cell {
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		errs      atomic.Int64
		wg        sync.WaitGroup
		lat       = make([][]time.Duration, n)
	)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, 64)
			dl := src.dialer(w, 5*time.Second)
			for i := w; !stop.Load(); i += n {
				t0 := time.Now()
				err := handshake(dl, t.Addr(), logins[i%len(logins)], buf, cl)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	time.Sleep(warmup)
	cpu0 := t.CPU()
	start := time.Now()
	measuring.Store(true)
	time.Sleep(d)
	measuring.Store(false)
	elapsed := time.Since(start)
	cpu := t.CPU().sub(cpu0)
	stop.Store(true)
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	c := cell{conns: len(all), errors: errs.Load(), elapsed: elapsed, cpu: cpu}
	c.p50, c.p99 = percentiles(all)
	return c
}

// handshake dials with d, sends the Connection Request, reads the
// Connection Confirm (one TPKT packet) and closes the cl way.
func handshake(d *net.Dialer, addr string, cr []byte, buf []byte, cl closeStyle) (err error) {
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cl.end(c); err == nil {
			err = cerr
		}
	}()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(cr); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, buf[:4]); err != nil {
		return err
	}
	n := int(buf[2])<<8 | int(buf[3])
	if n < 11 || n > len(buf) {
		return fmt.Errorf("bad confirm length %d", n)
	}
	if _, err := io.ReadFull(c, buf[4:n]); err != nil {
		return err
	}
	_, err = rdp.ParseConnectionConfirm(buf[:n])
	return err
}

// crs builds one Connection Request per login, as mstsc would send them.
func crs(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		login := fmt.Sprintf("user%04d", i)
		out[i] = rdp.BuildConnectionRequest(rdp.ConnRequest{
			Cookie: login, Token: rdp.RoutingToken{Kind: rdp.TokenCookie, Raw: "Cookie: mstshash=" + login},
			HasNegReq: true, RequestedProtocols: rdp.ProtocolSSL | rdp.ProtocolHybrid,
		})
	}
	return out
}
