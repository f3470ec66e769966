package admin

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s line %d: %v", path, n+1, err)
		}
	}
	return n
}

// TestAuditRotates: past the cap the file moves to .1 (one rotation kept)
// and every record is in one of the two files or was rotated away whole.
func TestAuditRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), AuditFile)
	a := NewAudit(path, 1000, slog.New(slog.DiscardHandler))
	defer a.Close()
	for i := 0; i < 40; i++ {
		a.Record(Record{Who: "uid 0 (root)", What: "drain", Target: "ts01", Before: map[string]int{"i": i}})
	}
	cur, old := countLines(t, path), countLines(t, path+".1")
	if cur == 0 || old == 0 {
		t.Fatalf("lines: current %d, rotated %d; want both > 0", cur, old)
	}
	for _, p := range []string{path, path + ".1"} {
		if fi, _ := os.Stat(p); fi.Size() > 1000 {
			t.Errorf("%s: %d bytes, cap 1000", p, fi.Size())
		}
	}
	if _, err := os.Stat(path + ".2"); !os.IsNotExist(err) {
		t.Errorf("a second rotation kept: %v", err)
	}
}
