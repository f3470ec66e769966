package gctune

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 100},         // nothing measured yet
		{1 * mib, 5000},  // 64x: capped
		{4 * mib, 1500},  // next cycle at 64 MiB
		{16 * mib, 300},  // 16 + 48 = 64
		{31 * mib, 106},  // just under half
		{32 * mib, 100},  // half the target live: the default again
		{500 * mib, 100}, // thousands of sessions: the default
		{63 * mib, 100},
	} {
		if got := Percent(tc.live, 64*mib); got != tc.want {
			t.Errorf("Percent(%d MiB) = %d, want %d", tc.live/mib, got, tc.want)
		}
	}
}

// TestRunSetsAndRestores: with a small live heap Run raises GOGC, and puts
// the default back when it stops.
func TestRunSetsAndRestores(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	runtime.GC() // the live heap is known after a cycle
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{MinTarget: 1 << 40, Interval: 10 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := debug.SetGCPercent(100) // reads (and briefly resets) the current value
		debug.SetGCPercent(p)
		if p > 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("GOGC not raised with a live heap far below MinTarget")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("GOGC %d after Run stopped, want 100", p)
	}
}
