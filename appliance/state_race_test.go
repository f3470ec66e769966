package appliance

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestLogStateDuringShutdown: SIGUSR1's LogState reads the affinity table
// while Run's shutdown closes it. Before, closeAffinity set b.aff to nil
// without the lock LogState read it under: `go test -race` failed here.
func TestLogStateDuringShutdown(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rdpbroker.yaml")
	cfg := "listen: 127.0.0.1:0\nstate_dir: " + dir + "\ndefault_pool: p\nadmin: {socket: '', http: ''}\n" +
		"pools:\n  - name: p\n    health: {check: none}\n    servers:\n      - {name: ts01, address: 127.0.0.1:9}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		c, err := LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		b, err := New(c, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Listener: ln})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		<-b.Ready()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				b.LogState()
			}
		}()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if b.Affinity() != nil {
			t.Fatal("affinity table still set after Run returned")
		}
	}
}
