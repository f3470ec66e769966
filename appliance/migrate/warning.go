package migrate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Warning is one construct that was not translated as such: where it is
// and what was done instead.
type Warning struct {
	// File and Line locate the construct (Line 0: the whole file, or an
	// entry of a stick table dump).
	File string
	Line int
	// Note marks a construct that does not change routing (logging,
	// statistics, daemon mode): reported, but not a difference.
	Note bool
	// Msg says what the construct is and what was done instead.
	Msg string
}

// String is "haproxy.cfg:12: warning: ..." (or "note: ...").
func (w Warning) String() string {
	level := "warning"
	if w.Note {
		level = "note"
	}
	if w.Line == 0 {
		return fmt.Sprintf("%s: %s: %s", w.File, level, w.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", w.File, w.Line, level, w.Msg)
}

// warnings collects warnings, dropping exact duplicates (a defaults line
// seen by every backend is reported once).
type warnings struct {
	file string
	list []Warning
	seen map[string]bool
}

func (ws *warnings) add(line int, note bool, format string, args ...any) {
	w := Warning{File: ws.file, Line: line, Note: note, Msg: fmt.Sprintf(format, args...)}
	if ws.seen == nil {
		ws.seen = map[string]bool{}
	}
	if k := w.String(); !ws.seen[k] {
		ws.seen[k] = true
		ws.list = append(ws.list, w)
	}
}

// warn reports a construct whose behaviour rdpbroker does not reproduce.
func (ws *warnings) warn(line int, format string, args ...any) { ws.add(line, false, format, args...) }

// note reports a construct ignored without effect on routing.
func (ws *warnings) note(line int, format string, args ...any) { ws.add(line, true, format, args...) }

// parseDuration parses an HAProxy time: a number with an optional unit
// (us, ms, s, m, h, d); no unit means milliseconds.
func parseDuration(s string) (time.Duration, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], s[i:]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("%q: not an HAProxy time", s)
	}
	mult := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("%q: unknown time unit %q", s, unit)
	}
	return time.Duration(n) * mult, nil
}

// list abbreviates a list of names for a message: the first max, then
// "and N more".
func list(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}
