package systemd_test

import (
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/systemd"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)} }

func TestHeartbeat(t *testing.T) {
	const limit = 5 * time.Second
	clk := newFakeClock()
	h := systemd.NewHeartbeat(clk.now)
	cases := []struct {
		name    string
		do      func()
		alive   bool
		outside time.Duration
	}{
		{"created: grace to reach Accept", func() { clk.add(4 * time.Second) }, true, 4 * time.Second},
		{"never reached Accept", func() { clk.add(time.Second) }, false, limit},
		{"idle in Accept for an hour", func() { h.Enter(); clk.add(time.Hour) }, true, 0},
		{"handling a connection", func() { h.Leave(); clk.add(time.Millisecond) }, true, time.Millisecond},
		{"back in Accept", func() { h.Enter(); clk.add(time.Minute) }, true, 0},
		{"accept backoff of 1s", func() { h.Leave(); clk.add(time.Second) }, true, time.Second},
		{"stuck outside Accept", func() { clk.add(limit) }, false, limit + time.Second},
		{"recovered", func() { h.Enter() }, true, 0},
		{"stopped on purpose, draining", func() { h.Leave(); h.Stop(); clk.add(time.Hour) }, true, 0},
	}
	for _, c := range cases {
		c.do()
		if got := h.Alive(limit); got != c.alive {
			t.Errorf("%s: Alive = %v, want %v", c.name, got, c.alive)
		}
		if got := h.Outside(); got != c.outside {
			t.Errorf("%s: Outside = %v, want %v", c.name, got, c.outside)
		}
	}
}
