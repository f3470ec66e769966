package affinity

import (
	"strings"
	"sync"
	"time"
)

// Version orders the writes of one key across all nodes: a hybrid logical
// clock (wall milliseconds, a logical counter for writes within the same
// millisecond or behind a peer's clock) and, to break the last tie, the id
// of the node that wrote it. Every node compares versions the same way, so
// every node keeps the same write.
type Version struct {
	Wall    int64  // Unix milliseconds
	Logical uint32 // counter within Wall
	Node    string // writer's node id
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than o.
func (v Version) Compare(o Version) int {
	switch {
	case v.Wall < o.Wall:
		return -1
	case v.Wall > o.Wall:
		return 1
	case v.Logical < o.Logical:
		return -1
	case v.Logical > o.Logical:
		return 1
	}
	return strings.Compare(v.Node, o.Node)
}

// IsZero reports whether v is the zero version (no write).
func (v Version) IsZero() bool { return v.Wall == 0 && v.Logical == 0 && v.Node == "" }

// clock is a hybrid logical clock: Next is strictly greater than every
// version it returned before and every version it observed, and follows
// the wall clock when the wall clock moves ahead.
type clock struct {
	now  func() time.Time
	node string

	mu      sync.Mutex // protects following fields
	wall    int64
	logical uint32
}

func newClock(now func() time.Time, node string) *clock {
	return &clock{now: now, node: node}
}

// Next returns a new version for a local write.
func (c *clock) Next() Version {
	pt := c.now().UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	if pt > c.wall {
		c.wall, c.logical = pt, 0
	} else {
		c.logical++
		if c.logical == 0 { // counter wrapped: borrow the next millisecond
			c.wall++
		}
	}
	return Version{Wall: c.wall, Logical: c.logical, Node: c.node}
}

// Observe moves the clock past v (a version loaded or received), so that
// the next local write of the same key wins over it.
func (c *clock) Observe(v Version) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v.Wall > c.wall || (v.Wall == c.wall && v.Logical > c.logical) {
		c.wall, c.logical = v.Wall, v.Logical
	}
}
