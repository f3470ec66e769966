package rdptest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestEventuallyHolds(t *testing.T) {
	calls := 0
	start := time.Now()
	Eventually(t, 5*time.Second, "the fifth call", func() bool { calls++; return calls == 5 })
	if calls != 5 {
		t.Errorf("cond called %d times, want 5", calls)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("four polls took %v: not every few ms", d)
	}
}

func TestEventuallyFailsSayingWhat(t *testing.T) {
	tb := &fakeTB{}
	start := time.Now()
	Eventually(tb, 50*time.Millisecond, "godot", func() bool { return false })
	if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Errorf("gave up after %v, want about 50ms", d)
	}
	if msg := fmt.Sprintf(tb.fatal, tb.args...); msg != "timed out after 50ms waiting for godot" {
		t.Errorf("failure %q", msg)
	}
}

func TestEventuallyWhy(t *testing.T) {
	tb := &fakeTB{}
	n := 0
	EventuallyWhy(tb, 30*time.Millisecond, func() string { n++; return fmt.Sprintf("try %d", n) })
	msg := fmt.Sprintf(tb.fatal, tb.args...)
	if !strings.HasPrefix(msg, "not within 30ms: try ") || msg != fmt.Sprintf("not within 30ms: try %d", n) {
		t.Errorf("failure %q after %d tries, want the last reason", msg, n)
	}
	tb = &fakeTB{}
	EventuallyWhy(tb, time.Second, func() string { return "" })
	if tb.fatal != "" {
		t.Errorf("a holding cond failed: %q", tb.fatal)
	}
}

func TestPollReportsLastAnswer(t *testing.T) {
	ok, why := Poll(20*time.Millisecond, func() (bool, string) { return false, "not yet" })
	if ok || why != "not yet" {
		t.Errorf("Poll = %v, %q", ok, why)
	}
	if ok, _ := Poll(0, func() (bool, string) { return true, "" }); !ok {
		t.Error("a holding cond with no time left: not ok")
	}
}
