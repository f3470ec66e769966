package main

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// sticky measures session affinity through a freshly started proxy and
// farm: each of `logins` logins connects, all sessions are held open
// together (so leastconn spreads them), then all disconnect; this is
// repeated `rounds` times. A reconnect that lands on a different server
// than the login's first connection is a stickiness violation (the user
// would find a new desktop instead of the disconnected session). Login i
// dials from source i.
func sticky(t target, farm []*rdptest.Server, src sources, logins, rounds int, tag string) cell {
	first := map[string]string{} // login -> server of its first connection
	var c cell
	for r := 0; r < rounds; r++ {
		marks := make([]int, len(farm))
		for i, s := range farm {
			marks[i] = s.Count()
		}
		conns := make([]net.Conn, logins)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range logins {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				cn, err := dialSession(src.dialer(i, 5*time.Second), t.Addr(), login(tag, i))
				if err == nil {
					conns[i] = cn
				}
			}(i)
		}
		wg.Wait()
		landed := map[string]string{}
		for i, s := range farm {
			for _, req := range s.Seen()[marks[i]:] {
				landed[req.Cookie] = s.Name()
			}
		}
		for i := range logins {
			if conns[i] == nil {
				c.errors++
				continue
			}
			conns[i].Close()
			l := login(tag, i)
			srv, ok := landed[l]
			if !ok {
				c.errors++
				continue
			}
			if r == 0 {
				first[l] = srv
				continue
			}
			c.reconnects++
			if first[l] != srv {
				c.violations++
			}
		}
		// Wait until the proxy has closed every server side, so the next
		// round starts from an empty farm as a morning of reconnects would.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			active := 0
			for _, s := range farm {
				active += s.Active()
			}
			if active == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return c
}

func login(tag string, i int) string { return fmt.Sprintf("st%s%04d", tag, i) }
