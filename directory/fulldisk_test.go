package directory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// A snapshot that cannot be written because the disk is full is an error
// naming the cause; the last good snapshot stays whole and no temporary
// file is left; once space is back the next save works.
func TestSnapshotFullDisk(t *testing.T) {
	dir := rdptest.Tmpfs(t, 1<<20)
	p := filepath.Join(dir, SnapshotFile)
	small := testSnapshot()
	if err := SaveSnapshot(p, small); err != nil {
		t.Fatal(err)
	}
	b := newBuilder()
	for i := range 5000 {
		b.add(fmt.Sprintf("user%05d", i), "", "Engineering")
	}
	big := &Snapshot{NetBIOS: "corp", DNSDomain: "corp.example.test", Users: b.build()}
	filler := rdptest.Fill(t, dir)

	err := SaveSnapshot(p, big)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("save on a full disk: %v, want ENOSPC", err)
	}
	got, err := LoadSnapshot(p)
	if err != nil {
		t.Fatalf("last good snapshot after the failed save: %v", err)
	}
	if len(got.Users) != len(small.Users) {
		t.Fatalf("last good snapshot after the failed save: %d users, want %d", len(got.Users), len(small.Users))
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(tmps) != 0 {
		t.Errorf("temporary files left on the full disk: %v", tmps)
	}

	os.Remove(filler)
	if err := SaveSnapshot(p, big); err != nil {
		t.Fatalf("save once space is back: %v", err)
	}
	if got, err := LoadSnapshot(p); err != nil {
		t.Errorf("after the space came back: %v", err)
	} else if len(got.Users) != 5000 {
		t.Errorf("after the space came back: %d users, want 5000", len(got.Users))
	}
}
