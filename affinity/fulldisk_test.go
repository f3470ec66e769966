package affinity

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// tmpfs mounts a tmpfs of size bytes on a new temporary directory, for a
// disk that really fills up, and unmounts it when the test ends. Mounting
// needs root (CAP_SYS_ADMIN), which `make test` has; without it the test
// is skipped.
func tmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a tmpfs (root needed): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) }) // before TempDir's removal
	return dir
}

// fill writes a file in dir until the file system is full and returns its
// path: removing it frees the space.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return p
		}
	}
}

// On a full disk the table keeps serving from memory, keeps the changes
// pending and says why; once space is back the next flush writes them all,
// and a restart finds every entry: nothing placed during the outage is
// lost.
func TestFullDiskLosesNothing(t *testing.T) {
	dir := tmpfs(t, 4<<20)
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
	filler := fill(t, dir)

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
