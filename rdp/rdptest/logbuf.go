package rdptest

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
)

// LogBuffer is a goroutine-safe io.Writer that keeps what is written, for
// a test to read a logger's output (or a child process's stderr) while
// other goroutines still write:
//
//	logs := &rdptest.LogBuffer{}
//	r := NewRouter(RouterOptions{Logger: logs.Logger(slog.LevelInfo)})
//	...
//	rdptest.Eventually(t, 5*time.Second, "the warning", func() bool {
//		return logs.Count("pool has no available server") > 0
//	})
//
// The zero value is ready to use.
type LogBuffer struct {
	mu sync.Mutex // protects b
	b  bytes.Buffer
}

// Logger returns a logger writing text lines (slog.TextHandler) into the
// buffer, at level and above.
func (l *LogBuffer) Logger(level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: level}))
}

// Write appends p; it never fails.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines returns the lines written so far, without their newlines.
func (l *LogBuffer) Lines() []string {
	s := strings.TrimSuffix(l.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Count returns how many lines contain substr.
func (l *LogBuffer) Count(substr string) int {
	n := 0
	for _, line := range l.Lines() {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// Messages returns the text-handler lines whose message is msg
// ("... msg=session ...").
func (l *LogBuffer) Messages(msg string) []string {
	var out []string
	for _, line := range l.Lines() {
		if strings.Contains(line, "msg="+msg+" ") || strings.HasSuffix(line, "msg="+msg) {
			out = append(out, line)
		}
	}
	return out
}
