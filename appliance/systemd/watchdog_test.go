package systemd_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/systemd"
	"github.com/rdpbroker/rdpbroker/appliance/systemd/sdtest"
)

const (
	watchdogUsec = 200000                 // WatchdogSec=200ms: a ping every 100ms
	pingEvery    = 100 * time.Millisecond // half of it
	wedgeAfter   = 150 * time.Millisecond // the Heartbeat limit in this test
)

// acceptLoop is the shape of the broker's accept loop, with the heartbeat
// hooks and a lock taken after each accept that the test holds to wedge it.
func acceptLoop(ln net.Listener, hb *systemd.Heartbeat, wedge *sync.Mutex) {
	for {
		hb.Enter()
		c, err := ln.Accept()
		hb.Leave()
		if err != nil {
			hb.Stop()
			return
		}
		wedge.Lock()
		wedge.Unlock()
		c.Close()
	}
}

func pings(msgs []sdtest.Message) []sdtest.Message {
	var out []sdtest.Message
	for _, m := range msgs {
		if m.State == "WATCHDOG=1" {
			out = append(out, m)
		}
	}
	return out
}

func waitPings(t *testing.T, sock *sdtest.Socket, after time.Time, n int) []sdtest.Message {
	t.Helper()
	var got []sdtest.Message
	_, err := sock.Wait(5*time.Second, func(msgs []sdtest.Message) bool {
		got = got[:0]
		for _, m := range pings(msgs) {
			if m.At.After(after) {
				got = append(got, m)
			}
		}
		return len(got) >= n
	})
	if err != nil {
		t.Fatalf("waiting for %d pings: %v", n, err)
	}
	return got
}

func waitLog(t *testing.T, logs *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no log %q within 5s:\n%s", s, logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatchdogFollowsAcceptLoop(t *testing.T) {
	sock := underSystemd(t)
	t.Setenv("WATCHDOG_USEC", strconv.Itoa(watchdogUsec))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	logger, logs := newLogger()
	n := systemd.New(systemd.Options{Logger: logger})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hb := systemd.NewHeartbeat(nil)
	var wedge sync.Mutex
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); acceptLoop(ln, hb, &wedge) }()
	t.Cleanup(func() { ln.Close(); <-loopDone })

	ctx, cancel := context.WithCancel(context.Background())
	wdDone := make(chan struct{})
	go func() { defer close(wdDone); n.Watchdog(ctx, func() bool { return hb.Alive(wedgeAfter) }) }()
	t.Cleanup(func() { cancel(); <-wdDone })

	// Idle in Accept far longer than wedgeAfter: alive, pinged every 100ms.
	start := time.Now()
	got := waitPings(t, sock, start, 5)
	mean := got[4].At.Sub(got[0].At) / 4
	if mean < 80*time.Millisecond || mean > 200*time.Millisecond {
		t.Fatalf("mean ping interval %v, want about %v (half of WATCHDOG_USEC)", mean, pingEvery)
	}

	// Wedge the loop outside Accept: pings stop once the watchdog sees it.
	wedge.Lock()
	wedged := true
	t.Cleanup(func() { // on failure, free the loop so the cleanups above can end it
		if wedged {
			wedge.Unlock()
		}
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitLog(t, logs, "accept loop wedged")
	before := len(pings(sock.Messages()))
	quiet := time.Now()
	// An absence can only be observed over a window: 5 ping periods.
	deadline := time.NewTimer(5 * pingEvery)
	<-deadline.C
	if after := len(pings(sock.Messages())); after != before {
		t.Fatalf("%d pings sent while the accept loop was wedged", after-before)
	}

	// Unwedge: pings resume.
	wedged = false
	wedge.Unlock()
	waitPings(t, sock, quiet, 1)
	waitLog(t, logs, "pings resumed")

	// The loop ends on purpose (shutdown): the drain is not a wedge.
	ln.Close()
	<-loopDone
	stopped := time.Now()
	waitPings(t, sock, stopped.Add(2*wedgeAfter), 2)

	cancel()
	select {
	case <-wdDone:
	case <-time.After(5 * time.Second):
		t.Fatal("Watchdog did not return after its context ended")
	}
	if c := strings.Count(logs.String(), "accept loop wedged"); c != 1 {
		t.Fatalf("wedge logged %d times, want once:\n%s", c, logs)
	}
}

// WATCHDOG_PID naming another process (a child that inherited it) means
// no watchdog for us: Watchdog returns at once and sends nothing.
func TestWatchdogForAnotherPID(t *testing.T) {
	sock := underSystemd(t)
	t.Setenv("WATCHDOG_USEC", strconv.Itoa(watchdogUsec))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	n := systemd.New(systemd.Options{})
	if iv := n.WatchdogInterval(); iv != 0 {
		t.Fatalf("WatchdogInterval() = %v for another pid", iv)
	}
	done := make(chan struct{})
	go func() { defer close(done); n.Watchdog(context.Background(), func() bool { return true }) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watchdog ran without a watchdog for this process")
	}
	n.Ready() // a marker: everything before it has arrived once it has
	msgs, err := sock.Wait(5*time.Second, func(m []sdtest.Message) bool { return len(m) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].State != "READY=1" {
		t.Fatalf("first datagram %q, want READY=1 (no ping)", msgs[0].State)
	}
}
