package rdptest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// The appliance runs for years on a VM whose /var may fill: its packages
// (the affinity store, the directory snapshot) are tested against ENOSPC
// and a read-only file system from the kernel, not against a fake.

// DiskTB is the part of testing.TB that Tmpfs needs.
type DiskTB interface {
	TB
	TempDir() string
	Skipf(format string, args ...any)
}

// Tmpfs mounts a tmpfs of size bytes on a new temporary directory and
// unmounts it when the test ends. Mounting needs root (CAP_SYS_ADMIN),
// which `make test` has; without it the test is skipped, saying why.
func Tmpfs(t DiskTB, size int) string {
	t.Helper()
	dir := t.TempDir()
	opts := fmt.Sprintf("size=%d,mode=0700", size)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		t.Skipf("cannot mount a tmpfs (root needed): %v", err)
		return ""
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) }) // runs before TempDir's removal
	return dir
}

// Fill writes a file in dir until its file system is full and returns the
// file's path: removing it frees the space.
func Fill(t TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "disktest-filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatalf("rdptest: fill %s: %v", dir, err)
		return ""
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("rdptest: fill %s: %v", dir, err)
			}
			return p
		}
	}
}

// ReadOnly remounts the tmpfs at dir (from Tmpfs) read-only, or
// read-write again: what the kernel does to a file system after I/O
// errors.
func ReadOnly(t TB, dir string, ro bool) {
	t.Helper()
	flags := uintptr(syscall.MS_REMOUNT | syscall.MS_NOSUID | syscall.MS_NODEV)
	if ro {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, ""); err != nil {
		t.Fatalf("rdptest: remount %s (read-only %v): %v", dir, ro, err)
	}
}
