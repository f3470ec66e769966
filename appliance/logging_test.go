package appliance

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// TestRateLimitRejectedLines: per reason, the first Burst "rejected" lines
// of an interval are written, then one line says how many more were
// suppressed; other messages and other reasons are not affected.
func TestRateLimitRejectedLines(t *testing.T) {
	var buf rdptest.LogBuffer
	const interval = 300 * time.Millisecond
	h := RateLimit(slog.NewTextHandler(&buf, nil), LogLimit{Msg: "rejected", Key: "reason", Burst: 3, Interval: interval})
	log := slog.New(h).With("component", "test")
	start := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 250 {
				log.Info("rejected", "reason", "timeout", "client", "127.0.0.5:1234")
			}
		}()
	}
	wg.Wait()
	log.Warn("rejected", "reason", "limit")
	log.Info("session", "reason", "timeout")
	if time.Since(start) >= interval {
		t.Skip("the machine is too slow to log 1,000 lines within the interval")
	}
	rdptest.Eventually(t, 3*interval, "the suppressed line", func() bool {
		return buf.Count("more suppressed") == 1
	})
	if n := buf.Count("msg=rejected component=test reason=timeout"); n != 3 {
		t.Errorf("%d timeout lines written, want 3\n%s", n, buf.String())
	}
	if buf.Count("reason=limit") != 1 || buf.Count("msg=session") != 1 {
		t.Errorf("other reasons or messages were limited:\n%s", buf.String())
	}
	var sum []string
	for _, l := range buf.Lines() {
		if strings.Contains(l, `msg="rejected: 997 more suppressed"`) {
			sum = append(sum, l)
		}
	}
	if len(sum) != 1 || !strings.Contains(sum[0], "component=test reason=timeout suppressed=997 interval=300ms") {
		t.Errorf("summary %q, want one line with reason=timeout suppressed=997\n%s", sum, buf.String())
	}
	// A new interval writes again.
	log.Info("rejected", "reason", "timeout")
	if n := buf.Count("msg=rejected component=test reason=timeout"); n != 4 {
		t.Errorf("%d timeout lines after the interval, want 4", n)
	}
}
