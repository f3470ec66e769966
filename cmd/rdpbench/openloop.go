package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// maxInFlight bounds the open-loop connections in flight (descriptors:
// the benchmark also holds the farm's side); an arrival beyond it is
// counted as an error, not delayed.
const maxInFlight = 4000

// openLoop starts handshakes at a fixed rate for warmup+d, whatever the
// target's speed (no coordinated omission), and measures the arrivals
// scheduled in the last d. Latency runs from the scheduled start, so a
// late dispatch counts against the target as a real client would see it.
// Arrival i dials from source i (round robin); clients end with a FIN.
func openLoop(t target, rate float64, src sources, warmup, d time.Duration, logins [][]byte) cell {
	total := int(rate * (warmup + d).Seconds())
	first := int(rate * warmup.Seconds()) // first measured arrival
	lat := make([]time.Duration, total)   // -1: error; written by its own goroutine only
	var (
		wg       sync.WaitGroup
		inFlight atomic.Int64
		dropped  atomic.Int64
	)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i++ {
			sched := start.Add(time.Duration(i) * interval)
			if w := time.Until(sched); w > 0 {
				time.Sleep(w)
			}
			if inFlight.Load() >= maxInFlight {
				lat[i] = -1
				dropped.Add(1)
				continue
			}
			inFlight.Add(1)
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				defer inFlight.Add(-1)
				b := make([]byte, 64)
				if err := handshake(src.dialer(i, 5*time.Second), t.Addr(), logins[i%len(logins)], b, closeFIN); err != nil {
					lat[i] = -1
					return
				}
				lat[i] = time.Since(sched)
			}(i)
		}
	}()
	time.Sleep(time.Until(start.Add(warmup)))
	cpu0 := t.CPU()
	time.Sleep(time.Until(start.Add(warmup + d)))
	cpu := t.CPU().sub(cpu0)
	<-done
	wg.Wait()
	c := cell{elapsed: d, cpu: cpu}
	var ok []time.Duration
	var last time.Duration // completion of the last measured arrival, from start
	for i := first; i < total; i++ {
		if lat[i] < 0 {
			c.errors++
			continue
		}
		ok = append(ok, lat[i])
		last = max(last, time.Duration(i)*interval+lat[i])
	}
	c.conns = len(ok)
	// Achieved rate: completions over the span from the first measured
	// arrival to the last completion (>= d when the target falls behind).
	if span := last - time.Duration(first)*interval; span > d {
		c.elapsed = span
	}
	c.p50, c.p99 = percentiles(ok)
	return c
}
