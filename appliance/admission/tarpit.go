package admission

import (
	"io"
	"sync"
	"time"
)

// tarpit holds refused connections open, unread, until a deadline, then
// closes them. A source over its share that reconnects as soon as it is
// closed would otherwise cost an accept and a close per reconnect, as fast
// as it can go; held, it costs a descriptor and nothing else, and comes
// back once per inspect_timeout.
type tarpit struct {
	mu    sync.Mutex // protects following fields
	q     []heldConn // in arrival order; one is closed late by at most the spread of the deadlines
	timer *time.Timer
}

type heldConn struct {
	c     io.Closer
	until time.Time
}

// hold keeps c until until, unless max are held already (false: the
// caller closes c).
func (t *tarpit) hold(c io.Closer, until time.Time, max int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.q) >= max {
		return false
	}
	t.q = append(t.q, heldConn{c, until})
	if t.timer == nil {
		t.timer = time.AfterFunc(time.Until(until), t.expire)
	}
	return true
}

// expire closes the connections whose time is up and waits for the next.
func (t *tarpit) expire() {
	now := time.Now()
	t.mu.Lock()
	i := 0
	for i < len(t.q) && !t.q[i].until.After(now) {
		i++
	}
	done := t.q[:i:i]
	t.q = append([]heldConn(nil), t.q[i:]...)
	if len(t.q) > 0 {
		t.timer = time.AfterFunc(time.Until(t.q[0].until), t.expire)
	} else {
		t.timer = nil
	}
	t.mu.Unlock()
	for _, h := range done {
		h.c.Close()
	}
}

func (t *tarpit) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.q)
}
