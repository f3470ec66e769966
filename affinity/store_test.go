package affinity

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func openAt(t *testing.T, path string, fc *fakeClock, logs *bytes.Buffer) *Table {
	t.Helper()
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	cfg := DefaultConfig()
	tb, err := Open(path, cfg, Options{Now: fc.Now, Node: "a", Logger: logger, LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return tb
}

func TestRestartReload(t *testing.T) {
	fc := newFakeClock()
	path := filepath.Join(t.TempDir(), "affinity.db")
	tb := openAt(t, path, fc, nil)
	for i := range 100 {
		tb.Place("u"+strconv.Itoa(i), "s"+strconv.Itoa(i%3))
	}
	tb.Delete("u7")
	tb.Place("short", "s1")
	last, _ := tb.Get("u99")
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}

	fc.Add(time.Hour)
	tb = openAt(t, path, fc, nil)
	defer tb.Close()
	if tb.Len() != 100 {
		t.Errorf("Len after reload = %d, want 100", tb.Len())
	}
	if s, ok := tb.Lookup("u5"); !ok || s != "s2" {
		t.Errorf("Lookup(u5) = %q, %v", s, ok)
	}
	if e, ok := tb.Get("u7"); !ok || !e.Deleted {
		t.Errorf("tombstone lost on reload: %+v %v", e, ok)
	}
	// the clock continues after the loaded versions
	tb.Place("u99", "s9")
	if e, _ := tb.Get("u99"); e.Version.Compare(last.Version) <= 0 {
		t.Errorf("new version %+v not after loaded %+v", e.Version, last.Version)
	}
	// expired entries are pruned on load, from disk too
	fc.Add(8 * time.Hour)
	tb.Place("fresh", "s1")
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	tb = openAt(t, path, fc, nil)
	if err := tb.Flush(); err != nil { // removes the expired keys from disk
		t.Fatal(err)
	}
	if got := tb.List(Filter{Tombstones: true}); len(got) != 1 || got[0].Key != "fresh" {
		t.Errorf("after expiry: %+v, want only fresh", got)
	}
	tb.Close()
	st, err := openBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	st.load(func(int) {}, func(k, v []byte) { n++ })
	st.close()
	if n != 1 {
		t.Errorf("%d keys on disk after pruning, want 1", n)
	}
}

func TestCorruptStore(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
	}{
		{"garbage", bytes.Repeat([]byte("not a bbolt file "), 1000)},
		{"one byte", []byte{0}},
		{"zeros", make([]byte, 64<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "affinity.db")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			tb := openAt(t, path, newFakeClock(), &logs)
			defer tb.Close()
			if tb.Len() != 0 {
				t.Errorf("Len = %d, want an empty table", tb.Len())
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "moved aside") {
				t.Errorf("no error logged: %s", logs.String())
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("moved-aside files: %v", aside)
			}
			if got, _ := os.ReadFile(aside[0]); !bytes.Equal(got, tt.content) {
				t.Error("the bad file was not kept as it was")
			}
			// the table works and persists
			tb.Place("u1", "s1")
			if err := tb.Flush(); err != nil {
				t.Fatalf("Flush on the new store: %v", err)
			}
		})
	}
}

func TestLockedStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "affinity.db")
	fc := newFakeClock()
	first := openAt(t, path, fc, nil)
	defer first.Close()
	start := time.Now()
	_, err := Open(path, DefaultConfig(), Options{Now: fc.Now, Node: "b", LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("second Open took %s", d)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name the file: %v", err)
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
		t.Errorf("a locked file was moved aside: %v", aside)
	}
}

// TestWriteErrorKeepsServing: a store that fails to write keeps the
// changes in memory and pending, counts the error and succeeds later.
func TestWriteErrorKeepsServing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "affinity.db")
	fc := newFakeClock()
	var logs bytes.Buffer
	tb := openAt(t, path, fc, &logs)
	st := tb.persist.st
	st.db.Close() // every write now fails
	tb.Place("u1", "s1")
	if err := tb.Flush(); err == nil {
		t.Fatal("Flush on a closed store succeeded")
	}
	tb.Place("u2", "s2")
	tb.Flush()
	s := tb.Stats()
	if s.FlushErrors != 2 || s.PendingWrites != 2 || s.LastFlushError == "" {
		t.Errorf("stats after failures: %+v", s)
	}
	if v, ok := tb.Lookup("u1"); !ok || v != "s1" {
		t.Errorf("Lookup during write errors = %q, %v", v, ok)
	}
	if c := strings.Count(logs.String(), "cannot write the store"); c != 1 {
		t.Errorf("%d error logs for the same error, want 1 (rate limited)", c)
	}
	reopened, err := openBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tb.persist.st = reopened
	if err := tb.Flush(); err != nil {
		t.Fatalf("Flush after recovery: %v", err)
	}
	if s := tb.Stats(); s.PendingWrites != 0 || s.LastFlushError != "" {
		t.Errorf("stats after recovery: %+v", s)
	}
	tb.Close()
	tb = openAt(t, path, fc, nil)
	defer tb.Close()
	if tb.Len() != 2 {
		t.Errorf("after recovery and reload: Len = %d, want 2", tb.Len())
	}
}

// TestSIGKILLKeepsFlushed kills a placing process mid-stream: every
// placement it reported flushed is there after reopening.
func TestSIGKILLKeepsFlushed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "affinity.db")
	for round := range 2 { // the second round appends to a reloaded file
		c := startChild(t, "placer", "place", "AFF_DB="+path, "AFF_FLUSH=20ms")
		var confirmed int
		for confirmed < 3000 {
			l := c.expect("placed ", 20*time.Second)
			confirmed, _ = strconv.Atoi(strings.TrimPrefix(l, "placed "))
		}
		c.kill(syscall.SIGKILL)
		// lines already printed before the kill may confirm more
		for l := range c.lines {
			if n, err := strconv.Atoi(strings.TrimPrefix(l, "placed ")); err == nil && n > confirmed {
				confirmed = n
			}
		}
		tb, err := Open(path, DefaultConfig(), Options{Node: "checker", LockTimeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		missing := 0
		for i := range confirmed {
			if s, ok := tb.Lookup("k" + strconv.Itoa(i)); !ok || s != "srv"+strconv.Itoa(i%7) {
				missing++
			}
		}
		t.Logf("round %d: %d confirmed, %d loaded", round, confirmed, tb.Len())
		tb.Close()
		if missing > 0 {
			t.Fatalf("round %d: %d of %d confirmed placements lost", round, missing, confirmed)
		}
	}
}
