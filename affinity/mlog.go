package affinity

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"sync"
	"time"
)

// memberlist logs one line per bad datagram or connection ("[ERR]
// memberlist: Decrypt packet failed ..."): garbage sent to the peer port
// from a member's address (UDP sources can be spoofed) would flood the
// log. So of each kind of line (its text up to the first ": "), the first
// mlogBurst per mlogInterval are written and the rest summed up in one
// line at the end of the interval.
const (
	mlogBurst    = 5
	mlogInterval = 10 * time.Second
)

// memberlistLogger returns a *log.Logger for memberlist that sends each
// line to logger at the level memberlist gave it ("[WARN] memberlist: ..."),
// rate limited per kind of line.
func memberlistLogger(logger *slog.Logger) *log.Logger {
	return log.New(&slogWriter{l: logger, burst: mlogBurst, interval: mlogInterval, kinds: map[string]*mlogKind{}}, "", 0)
}

type slogWriter struct {
	l        *slog.Logger
	burst    int
	interval time.Duration

	mu    sync.Mutex // protects kinds
	kinds map[string]*mlogKind
}

// mlogKind is one kind of line in its current interval.
type mlogKind struct {
	start              time.Time
	logged, suppressed int
	level              slog.Level
}

var _ io.Writer = (*slogWriter)(nil)

var levelPrefixes = []struct {
	prefix []byte
	level  slog.Level
}{
	{[]byte("[DEBUG]"), slog.LevelDebug},
	{[]byte("[INFO]"), slog.LevelInfo},
	{[]byte("[WARN]"), slog.LevelWarn},
	{[]byte("[ERR]"), slog.LevelError},
	{[]byte("[ERROR]"), slog.LevelError},
}

func (w *slogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, lp := range levelPrefixes {
		if bytes.HasPrefix(line, lp.prefix) {
			level = lp.level
			line = bytes.TrimSpace(line[len(lp.prefix):])
			break
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	if !w.l.Enabled(context.Background(), level) || !w.allow(kindOf(line), level) {
		return len(p), nil
	}
	w.l.Log(context.Background(), level, "affinity: memberlist: "+string(line))
	return len(p), nil
}

// kindOf is a line's text up to its first ": " (what follows names the
// error and the address).
func kindOf(line []byte) string {
	if i := bytes.Index(line, []byte(": ")); i >= 0 {
		line = line[:i]
	}
	return string(line)
}

// allow counts a line of kind; false when it is suppressed. The first
// suppression of an interval schedules its summary.
func (w *slogWriter) allow(kind string, level slog.Level) bool {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	k := w.kinds[kind]
	if k == nil || now.Sub(k.start) >= w.interval {
		k = &mlogKind{start: now}
		w.kinds[kind] = k
	}
	if k.logged < w.burst {
		k.logged++
		return true
	}
	k.suppressed++
	k.level = max(k.level, level)
	if k.suppressed == 1 {
		time.AfterFunc(w.interval-now.Sub(k.start), func() { w.summarise(kind, k) })
	}
	return false
}

func (w *slogWriter) summarise(kind string, k *mlogKind) {
	w.mu.Lock()
	n, level := k.suppressed, k.level
	k.suppressed = 0
	if w.kinds[kind] == k {
		delete(w.kinds, kind)
	}
	w.mu.Unlock()
	if n > 0 {
		w.l.Log(context.Background(), level, fmt.Sprintf("affinity: memberlist: %s: %d more suppressed", kind, n),
			"suppressed", n, "interval", w.interval)
	}
}
