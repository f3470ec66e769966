package rdptest

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestTmpfsFillReadOnly(t *testing.T) {
	dir := Tmpfs(t, 256<<10)
	filler := Fill(t, dir)
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, make([]byte, 8192), 0o600); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full tmpfs: %v, want ENOSPC", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(probe, make([]byte, 8192), 0o600); err != nil {
		t.Fatalf("write once space is back: %v", err)
	}
	ReadOnly(t, dir, true)
	if err := os.WriteFile(probe, nil, 0o600); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write on a read-only tmpfs: %v, want EROFS", err)
	}
	ReadOnly(t, dir, false)
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Errorf("write once read-write again: %v", err)
	}
}
