package systemd

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// maxStatusError bounds the directory error quoted in a STATUS= line
// (systemd reads a notification into a 4 KiB buffer; `systemctl status`
// shows one line).
const maxStatusError = 160

// Status is what the STATUS= line says about the broker.
type Status struct {
	// Sessions is the number of sessions being proxied.
	Sessions int64
	// ServersUp and Servers are the available and configured servers.
	ServersUp, Servers int
	// Directory is whether a directory sync is configured; the fields
	// below are ignored without one.
	Directory bool
	// LastSync is when the last sync attempt finished (zero: none yet).
	LastSync time.Time
	// SyncError is the last attempt's error ("" = it succeeded).
	SyncError string
	// Note, when set, ends the line (e.g. "stopping", "upgrading").
	Note string
}

// Format renders the line at time now, e.g.
// "12 sessions, 3/4 servers up, directory synced 42s ago" or
// "0 sessions, 4/4 servers up, directory sync failed 3m ago: ldap: ...".
func (s Status) Format(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s, %d/%d servers up", s.Sessions, plural(s.Sessions, "session"), s.ServersUp, s.Servers)
	if s.Directory {
		switch {
		case s.LastSync.IsZero():
			b.WriteString(", directory not synced yet")
		case s.SyncError == "":
			fmt.Fprintf(&b, ", directory synced %s ago", age(now.Sub(s.LastSync)))
		default:
			fmt.Fprintf(&b, ", directory sync failed %s ago: %s", age(now.Sub(s.LastSync)), clip(oneLine(s.SyncError), maxStatusError))
		}
	}
	if s.Note != "" {
		b.WriteString(", ")
		b.WriteString(oneLine(s.Note))
	}
	return b.String()
}

// RunStatus sends STATUS=status() at once and then every interval until
// ctx is done, skipping a line equal to the last one sent. It returns at
// once outside systemd.
func (n *Notifier) RunStatus(ctx context.Context, interval time.Duration, status func() string) {
	if !n.Enabled() {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last := ""
	for {
		if s := status(); s != last {
			if n.Status(s) == nil {
				last = s
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// age is a coarse duration: 42s, 7m, 3h05m.
func age(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

func plural(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
