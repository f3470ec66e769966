package main

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// Bulk directions. The farm picks its mode from the cookie's prefix
// (farmMode): "up" sessions go to a sink, "down" sessions to a source.
const (
	up   = "up"   // client -> server: the client writes, the server sinks
	down = "down" // server -> client: the server sources, the client reads
)

// farmMode is the farm's per-connection mode: bulk cookies get a sink or a
// source; idle sessions a sink too (an echoing server splices, which holds
// a pipe, two more descriptors, per session in the farm's process);
// everything else the echo.
func farmMode(req rdp.ConnRequest) rdptest.Mode {
	switch {
	case strings.HasPrefix(req.Cookie, "up-"), strings.HasPrefix(req.Cookie, "idle"):
		return rdptest.Sink
	case strings.HasPrefix(req.Cookie, "down-"):
		return rdptest.Source
	}
	return rdptest.Echo
}

// bulk opens n sessions in direction dir, moves bytes as fast as they go
// for warmup+d and measures the bytes moved and the proxy CPU in the last d.
// Session i dials from source i.
func bulk(t target, dir string, n int, src sources, warmup, d time.Duration) cell {
	var (
		moved atomic.Int64
		errs  atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
		mu    sync.Mutex // protects conns
		conns []net.Conn
	)
	ready := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := dialSession(src.dialer(i, 5*time.Second), t.Addr(), fmt.Sprintf("%s-%d", dir, i))
			ready <- struct{}{}
			if err != nil {
				errs.Add(1)
				return
			}
			defer c.Close()
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			buf := make([]byte, 256<<10)
			for !stop.Load() {
				var m int
				if dir == up {
					m, err = c.Write(buf)
				} else {
					m, err = c.Read(buf)
				}
				moved.Add(int64(m))
				if err != nil {
					if !stop.Load() {
						errs.Add(1)
					}
					return
				}
			}
		}(i)
	}
	for i := 0; i < n; i++ {
		<-ready
	}
	time.Sleep(warmup)
	b0, cpu0, t0 := moved.Load(), t.CPU(), time.Now()
	time.Sleep(d)
	c := cell{bytes: moved.Load() - b0, cpu: t.CPU().sub(cpu0), elapsed: time.Since(t0)}
	stop.Store(true)
	mu.Lock()
	for _, cn := range conns {
		cn.Close()
	}
	mu.Unlock()
	wg.Wait()
	c.errors = errs.Load()
	return c
}
