package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// TestSplicePipesInDescriptorBudget runs the real broker under nofile
// 1024 (a session cap of 384): 200 concurrent downloads make 200
// directions splice, each taking a pipe (two descriptors) that Go keeps
// pooled after the download ends. Then idle sessions up to the cap: each
// is served or refused as a limit, and the broker never runs out of
// descriptors (no EMFILE: no failed accept, health probe or dial).
func TestSplicePipesInDescriptorBudget(t *testing.T) {
	const nofile, capacity, bulk = 1024, 384, 200
	srv := rdptest.NewServer(t, rdptest.Config{Name: "ts01", ModeFor: func(r rdp.ConnRequest) rdptest.Mode {
		if strings.HasPrefix(r.Cookie, "bulk") {
			return rdptest.Source
		}
		return rdptest.Echo
	}})
	b := brokerUnderNofile(t, nofile, "{check: rdp, interval: 200ms, timeout: 2s, rise: 1, fall: 3}", "",
		[]string{fmt.Sprintf("{name: ts01, address: %q}", srv.Addr())})
	if !hasLogLine(b.log(), "sessions capped by the descriptor limit", map[string]string{"cap": fmt.Sprint(capacity)}) {
		t.Fatalf("no cap of %d logged at start:\n%s", capacity, b.proc.describe())
	}
	addr := fmt.Sprintf("127.0.0.1:%d", b.port)

	var wg sync.WaitGroup
	errs := make(chan error, bulk)
	ready := make(chan struct{})
	for i := range bulk {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := rdptest.Dial(addr, fmt.Sprintf("bulk%03d", i), 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			<-ready // all 200 downloading at once
			if _, err := io.CopyN(io.Discard, c, 4<<20); err != nil {
				errs <- fmt.Errorf("download %d: %w", i, err)
			}
		}()
	}
	close(ready)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("bulk stream: %v\n%s", err, b.proc.describe())
	}

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	refused := 0
	for i := range capacity {
		c, _, err := rdptest.Dial(addr, fmt.Sprintf("idle%03d", i), 3*time.Second)
		if err != nil {
			refused++
			continue
		}
		held = append(held, c)
	}
	log := b.log()
	t.Logf("after %d downloads: %d idle sessions held, %d refused", bulk, len(held), refused)
	for _, line := range strings.Split(log, "\n") {
		for _, bad := range []string{"too many open files", "server connect failed", "accept failed"} {
			if strings.Contains(line, bad) {
				t.Errorf("log has %q: the broker ran out of descriptors: %s", bad, line)
			}
		}
	}
	rdptest.Poll(logTimeout, func() (bool, string) {
		return len(logLines(b.log(), "rejected")) >= refused, ""
	})
	for _, kv := range logLines(b.log(), "rejected") {
		if kv["reason"] != "limit" || !strings.Contains(kv["err"], "descriptor limit reached") {
			t.Errorf("refused for another reason than the descriptor limit: %v", kv)
		}
	}
	if len(held) == 0 {
		t.Errorf("no idle session admitted after the downloads")
	}
}
