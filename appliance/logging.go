package appliance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Rejected-line limits of the process logger: per reason, the first
// rejectLogBurst lines of every rejectLogInterval are written, the rest
// summed up in one "N more suppressed" line at the end of the interval, so
// a flood of refused clients cannot fill the journal.
const (
	rejectLogBurst    = 20
	rejectLogInterval = 10 * time.Second
)

// NewLogger builds the process logger described by cfg, writing to w.
// "rejected" lines are rate limited per reason (RateLimit).
func NewLogger(cfg LogConfig, w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(cfg.Level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch cfg.Format {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("log: unknown format %q", cfg.Format)
	}
	return slog.New(RateLimit(h, LogLimit{Msg: "rejected", Key: "reason", Burst: rejectLogBurst, Interval: rejectLogInterval})), nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("%q: must be debug, info, warn or error", s)
	}
	return l, nil
}

// LogLimit says which records RateLimit limits and how much.
type LogLimit struct {
	// Msg is the message of the records limited; others pass.
	Msg string
	// Key is the attribute whose value keeps its own count (the reason).
	Key string
	// Burst records per Interval and value of Key are written.
	Burst    int
	Interval time.Duration
}

// RateLimit wraps h: of the records whose message is l.Msg, only the
// first l.Burst per l.Interval and value of attribute l.Key pass; the
// others are counted, and once the interval is over one record says how
// many were suppressed ("<msg>: N more suppressed", with Key, suppressed
// and interval attributes, at the highest level suppressed).
func RateLimit(h slog.Handler, l LogLimit) slog.Handler {
	return &limitHandler{inner: h, st: &limitState{LogLimit: l, windows: make(map[string]*logWindow)}}
}

type limitHandler struct {
	inner slog.Handler
	st    *limitState // shared by the handlers WithAttrs and WithGroup derive
}

type limitState struct {
	LogLimit
	mu      sync.Mutex // protects windows
	windows map[string]*logWindow
}

// logWindow is one value's current interval.
type logWindow struct {
	start      time.Time
	logged     int
	suppressed int
	level      slog.Level
}

func (h *limitHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *limitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &limitHandler{inner: h.inner.WithAttrs(as), st: h.st}
}

func (h *limitHandler) WithGroup(name string) slog.Handler {
	return &limitHandler{inner: h.inner.WithGroup(name), st: h.st}
}

func (h *limitHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != h.st.Msg {
		return h.inner.Handle(ctx, r)
	}
	key := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == h.st.Key {
			key = a.Value.String()
			return false
		}
		return true
	})
	if !h.st.allow(key, r.Level, func(w *logWindow, wait time.Duration) {
		time.AfterFunc(wait, func() { h.summarise(key, w) })
	}) {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

// allow counts one record for key; false when it is to be suppressed.
// The first suppression of a window schedules its summary.
func (st *limitState) allow(key string, level slog.Level, schedule func(*logWindow, time.Duration)) bool {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	w := st.windows[key]
	if w == nil || now.Sub(w.start) >= st.Interval {
		w = &logWindow{start: now}
		st.windows[key] = w
	}
	if w.logged < st.Burst {
		w.logged++
		return true
	}
	w.suppressed++
	w.level = max(w.level, level)
	if w.suppressed == 1 {
		schedule(w, st.Interval-now.Sub(w.start))
	}
	return false
}

// summarise writes how many records of key window w suppressed.
func (h *limitHandler) summarise(key string, w *logWindow) {
	h.st.mu.Lock()
	n, level := w.suppressed, w.level
	w.suppressed = 0
	if h.st.windows[key] == w {
		delete(h.st.windows, key)
	}
	h.st.mu.Unlock()
	if n == 0 {
		return
	}
	r := slog.NewRecord(time.Now(), level, fmt.Sprintf("%s: %d more suppressed", h.st.Msg, n), 0)
	r.AddAttrs(slog.String(h.st.Key, key), slog.Int("suppressed", n), slog.Duration("interval", h.st.Interval))
	h.inner.Handle(context.Background(), r)
}
