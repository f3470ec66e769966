package appliance

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// TestHandlersReuseGoroutines: clients arriving one after another are all
// served by the first handler; clients served at the same time each get
// one; handlers with nothing to do end after their idle time.
func TestHandlersReuseGoroutines(t *testing.T) {
	var served atomic.Int64
	release := make(chan struct{})
	var block atomic.Bool
	h := newHandlers(func(context.Context, *net.TCPConn) {
		served.Add(1)
		if block.Load() {
			<-release
		}
	}, time.Minute) // no handler ends by itself during the test
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := int64(1); i <= 50; i++ {
		h.dispatch(ctx, nil)
		rdptest.EventuallyWhy(t, 2*time.Second, func() string {
			if served.Load() == i && h.waiting.Load() == 1 {
				return ""
			}
			return fmt.Sprintf("client %d: served %d, waiting %d, live %d", i, served.Load(), h.waiting.Load(), h.live.Load())
		})
	}
	if n := h.started.Load(); n != 1 {
		t.Fatalf("50 clients one after another started %d handlers, want 1", n)
	}
	block.Store(true)
	for i := 0; i < 3; i++ {
		h.dispatch(ctx, nil)
	}
	rdptest.Eventually(t, 2*time.Second, "3 clients served at once", func() bool { return served.Load() == 53 })
	if n := h.live.Load(); n != 3 {
		t.Fatalf("%d handlers for 3 clients at once, want 3", n)
	}
	close(release)
	cancel()
	rdptest.Eventually(t, 5*time.Second, "handlers ending with their context", func() bool { return h.live.Load() == 0 })

	// A handler with nothing to do ends after its idle time.
	short := newHandlers(func(context.Context, *net.TCPConn) {}, 50*time.Millisecond)
	short.dispatch(context.Background(), nil)
	rdptest.Eventually(t, 5*time.Second, "an idle handler ending", func() bool {
		return short.started.Load() == 1 && short.live.Load() == 0
	})
}
