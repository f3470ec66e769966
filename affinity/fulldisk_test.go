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

	"github.com/rdpbroker/rdpbroker/appliance/disktest"
)

// On a full disk the table keeps serving from memory, keeps the changes
// pending and says why; once space is back the next flush writes them all,
// and a restart finds every entry: nothing placed during the outage is
// lost.
func TestFullDiskLosesNothing(t *testing.T) {
	dir := disktest.Tmpfs(t, 4<<20)
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
	filler := disktest.Fill(t, dir)

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
