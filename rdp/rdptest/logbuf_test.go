package rdptest

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
)

func TestLogBufferConcurrentWrites(t *testing.T) {
	var logs LogBuffer
	log := logs.Logger(slog.LevelInfo)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				log.Info("session", "n", i*100+j)
				_ = logs.Count("session") // reads while others write: -race checks it
			}
		}()
	}
	wg.Wait()
	if n := len(logs.Lines()); n != 400 {
		t.Errorf("%d lines, want 400", n)
	}
	if n := logs.Count("msg=session"); n != 400 {
		t.Errorf("Count = %d, want 400", n)
	}
}

func TestLogBufferLinesAndMessages(t *testing.T) {
	var logs LogBuffer
	if got := logs.Lines(); got != nil {
		t.Errorf("empty buffer: lines %q", got)
	}
	log := logs.Logger(slog.LevelInfo)
	log.Debug("hidden")
	log.Info("session", "user", "alice")
	log.Info("session end")
	log.Warn("session")
	fmt.Fprint(&logs, "partial")
	lines := logs.Lines()
	if len(lines) != 4 || lines[3] != "partial" {
		t.Fatalf("lines %q, want 3 log lines and the partial one", lines)
	}
	if logs.Count("hidden") != 0 {
		t.Error("a debug line passed an info logger")
	}
	if n := logs.Count("session"); n != 3 {
		t.Errorf("Count(session) = %d, want 3", n)
	}
	msgs := logs.Messages("session")
	if len(msgs) != 2 || !slices.ContainsFunc(msgs, func(l string) bool { return l == lines[2] }) {
		t.Errorf("Messages(session) = %q, want the info line with user= and the warning", msgs)
	}
}
