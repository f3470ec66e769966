package main

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// idle opens n sessions through a freshly started proxy, each through the
// Connection Request/Confirm exchange, holds them idle and measures what
// they cost the proxy process: resident memory and descriptors, per
// session, against the same process before the sessions. Worker w dials
// from source w.
func idle(t target, n int, src sources) cell {
	pid := t.Pid()
	// Warm up: the first connections allocate per-process structures.
	for i := 0; i < 20; i++ {
		if c, err := dialSession(src.dialer(i, 5*time.Second), t.Addr(), fmt.Sprintf("warm%d", i)); err == nil {
			c.Close()
		}
	}
	time.Sleep(500 * time.Millisecond)
	rss0, fds0 := procRSS(pid), procFDs(pid)
	var (
		mu       sync.Mutex // protects conns and firstErr
		firstErr string
		conns    = make([]net.Conn, 0, n)
		errs     atomic.Int64
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(dl *net.Dialer) {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				c, err := dialSession(dl, t.Addr(), fmt.Sprintf("idle%05d", i))
				if err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						firstErr = err.Error()
						mu.Unlock()
					}
					continue
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}(src.dialer(w, 10*time.Second))
	}
	wg.Wait()
	time.Sleep(time.Second) // let the proxy settle: no session moves a byte from here
	c := cell{sessions: len(conns), errors: errs.Load(), rssBase: rss0, rssAt: procRSS(pid), firstErr: firstErr}
	if c.sessions > 0 {
		c.rssPerSession = float64(c.rssAt-rss0) / float64(c.sessions)
		c.fdsPerSession = float64(procFDs(pid)-fds0) / float64(c.sessions)
	}
	for _, cn := range conns {
		cn.Close()
	}
	return c
}
