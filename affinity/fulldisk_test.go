package affinity

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// On a full disk the table keeps serving from memory, keeps the changes
// pending and says why; once space is back the next flush writes them all,
// and a restart finds every entry: nothing placed during the outage is
// lost.
func TestFullDiskLosesNothing(t *testing.T) {
	dir := rdptest.Tmpfs(t, 4<<20)
	path := filepath.Join(dir, "affinity.db")
	fc := newFakeClock()
	var logs bytes.Buffer
	cfg := DefaultConfig()
	cfg.FlushInterval = time.Hour // only the test's Flush calls write: the counts below are exact
	open := func(logs io.Writer) *Table {
		tb, err := Open(path, cfg, Options{Now: fc.Now, Node: "a", Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return tb
	}
	tb := open(&logs)
	for i := range 10 {
		tb.Place("before"+strconv.Itoa(i), "s1")
	}
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	filler := rdptest.Fill(t, dir)

	for i := range 5000 {
		tb.Place("during"+strconv.Itoa(i), "s"+strconv.Itoa(i%4))
	}
	err := tb.Flush()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("flush on a full disk: %v, want ENOSPC", err)
	}
	if s, ok := tb.Lookup("during4999"); !ok || s != "s3" {
		t.Errorf("lookup during the outage = %q, %v", s, ok)
	}
	if s := tb.Stats(); s.PendingWrites != 5000 || s.FlushErrors != 1 {
		t.Errorf("stats on a full disk: pending %d, flush errors %d; want 5000 and 1", s.PendingWrites, s.FlushErrors)
	}
	if !bytes.Contains(logs.Bytes(), []byte("no space left on device")) {
		t.Errorf("the log does not say why: %s", logs.String())
	}

	os.Remove(filler)
	if err := tb.Flush(); err != nil {
		t.Fatalf("flush once space is back: %v", err)
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	tb = open(io.Discard)
	defer tb.Close()
	if tb.Len() != 5010 {
		t.Errorf("after a restart: %d entries, want 5010", tb.Len())
	}
	if s, ok := tb.Lookup("during1234"); !ok || s != "s2" {
		t.Errorf("lookup after a restart = %q, %v", s, ok)
	}
}

// A store the file system refuses at start (a full disk, no store yet)
// does not stop the table: it serves from memory, leaves no debris, and
// writes everything once space is back.
func TestOpenOnFullDisk(t *testing.T) {
	dir := rdptest.Tmpfs(t, 1<<20)
	path := filepath.Join(dir, "state", "affinity.db")
	os.Mkdir(filepath.Dir(path), 0o700)
	filler := rdptest.Fill(t, dir)
	fc := newFakeClock()
	cfg := DefaultConfig()
	cfg.FlushInterval = time.Hour
	var logs bytes.Buffer
	tb, err := Open(path, cfg, Options{Now: fc.Now, Node: "a", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open on a full disk: %v, want a table serving from memory", err)
	}
	defer tb.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store file left by the failed creation: %v", err)
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
		t.Errorf("a full disk was taken for a damaged store: %v", aside)
	}
	for i := range 100 {
		tb.Place("u"+strconv.Itoa(i), "s1")
	}
	if err := tb.Flush(); !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("flush while the disk is full: %v, want ErrUnavailable and ENOSPC", err)
	}
	if s, ok := tb.Lookup("u42"); !ok || s != "s1" {
		t.Errorf("lookup from memory = %q, %v", s, ok)
	}
	if st := tb.Stats(); st.PendingWrites != 100 || st.LastFlushError == "" {
		t.Errorf("stats: pending %d, last error %q", st.PendingWrites, st.LastFlushError)
	}

	os.Remove(filler)
	if err := tb.Flush(); err != nil {
		t.Fatalf("flush once space is back: %v", err)
	}
	tb.Close()
	again, err := Open(path, cfg, Options{Now: fc.Now, Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Len() != 100 {
		t.Errorf("after a restart: %d entries, want 100", again.Len())
	}
}

// A store on a file system that went read-only is not moved aside as
// damaged: the table starts from memory and, once the file system is
// writable, merges what the store held with what was placed meanwhile
// (newer wins) and writes the result.
func TestOpenOnReadOnlyDiskMergesLater(t *testing.T) {
	dir := rdptest.Tmpfs(t, 4<<20)
	path := filepath.Join(dir, "affinity.db")
	fc := newFakeClock()
	cfg := DefaultConfig()
	cfg.FlushInterval = time.Hour
	open := func() *Table {
		tb, err := Open(path, cfg, Options{Now: fc.Now, Node: "a"})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return tb
	}
	tb := open()
	for i := range 50 {
		tb.Place("old"+strconv.Itoa(i), "s1")
	}
	tb.Place("both", "s1")
	tb.Close()

	rdptest.ReadOnly(t, dir, true)
	fc.Add(time.Minute)
	tb = open()
	defer tb.Close()
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
		t.Errorf("a read-only disk was taken for a damaged store: %v", aside)
	}
	tb.Place("both", "s2") // newer than the stored s1
	tb.Place("new", "s3")
	if err := tb.Flush(); !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.EROFS) {
		t.Errorf("flush on a read-only disk: %v, want ErrUnavailable and EROFS", err)
	}

	rdptest.ReadOnly(t, dir, false)
	if err := tb.Flush(); err != nil {
		t.Fatalf("flush once writable: %v", err)
	}
	want := map[string]string{"old7": "s1", "both": "s2", "new": "s3"}
	for k, w := range want {
		if s, ok := tb.Lookup(k); !ok || s != w {
			t.Errorf("after the merge, Lookup(%s) = %q, %v; want %s", k, s, ok, w)
		}
	}
	tb.Close()
	tb = open()
	if tb.Len() != 52 {
		t.Errorf("after a restart: %d entries, want 52", tb.Len())
	}
	for k, w := range want {
		if s, ok := tb.Lookup(k); !ok || s != w {
			t.Errorf("after a restart, Lookup(%s) = %q, %v; want %s", k, s, ok, w)
		}
	}
}
