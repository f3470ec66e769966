package affinity

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestVersionCompare(t *testing.T) {
	tests := []struct {
		name string
		a, b Version
		want int
	}{
		{"equal", Version{5, 1, "a"}, Version{5, 1, "a"}, 0},
		{"wall wins", Version{6, 0, "a"}, Version{5, 9, "z"}, 1},
		{"logical wins", Version{5, 2, "a"}, Version{5, 1, "z"}, 1},
		{"node breaks tie", Version{5, 1, "b"}, Version{5, 1, "a"}, 1},
		{"older", Version{4, 0, "z"}, Version{5, 0, "a"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Compare(tt.b); got != tt.want {
				t.Errorf("Compare = %d, want %d", got, tt.want)
			}
			if got := tt.b.Compare(tt.a); got != -tt.want {
				t.Errorf("reverse Compare = %d, want %d", got, -tt.want)
			}
		})
	}
}

func TestClockMonotonic(t *testing.T) {
	fc := newFakeClock()
	c := newClock(fc.Now, "n1")
	prev := c.Next()
	steps := []time.Duration{0, 0, time.Millisecond, -time.Hour, 0, 2 * time.Hour, -time.Millisecond}
	for i, d := range steps {
		fc.Add(d)
		v := c.Next()
		if v.Compare(prev) <= 0 {
			t.Fatalf("step %d (%v): %+v not after %+v", i, d, v, prev)
		}
		prev = v
	}
	// follows the wall clock when it moves ahead
	fc.Add(time.Hour)
	if v := c.Next(); v.Wall != fc.Now().UnixMilli() || v.Logical != 0 {
		t.Errorf("after wall jump: %+v, want wall %d logical 0", v, fc.Now().UnixMilli())
	}
}

func TestClockObserve(t *testing.T) {
	fc := newFakeClock()
	c := newClock(fc.Now, "a")
	remote := Version{Wall: fc.Now().UnixMilli() + 5000, Logical: 7, Node: "z"}
	c.Observe(remote)
	if v := c.Next(); v.Compare(remote) <= 0 {
		t.Errorf("Next %+v not after observed %+v", v, remote)
	}
	c.Observe(Version{Wall: 1, Node: "old"}) // older: no effect
	if v := c.Next(); v.Wall != remote.Wall || v.Logical != 9 {
		t.Errorf("Next after old observe = %+v", v)
	}
}

func TestClockConcurrentUnique(t *testing.T) {
	c := newClock(time.Now, "a")
	var mu sync.Mutex
	seen := map[Version]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				v := c.Next()
				mu.Lock()
				if seen[v] {
					t.Errorf("duplicate version %+v", v)
				}
				seen[v] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
