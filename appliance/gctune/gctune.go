// Package gctune keeps the garbage collector from running many times a
// second while the broker's live heap is small.
//
//	go gctune.Run(ctx, gctune.DefaultConfig(), logger)
//
// The Go collector starts a cycle when the heap has grown by GOGC percent
// (100) of what the last cycle found live, and at least 4 MiB. A broker
// with a few hundred sessions has a few MiB live and allocates a few KiB
// per connection, so at 20,000 connections a second it collected some
// thirty times a second: a tenth of its CPU went to collecting and to the
// fixed costs of a cycle. Run raises GOGC while the live heap is small so
// that the next cycle starts near Config.MinTarget, and puts GOGC back as
// the heap grows (at MinTarget/2 live and beyond, GOGC is the default
// again): memory per session, with thousands of sessions held, is the
// same as without it. An administrator's own GOGC or GOMEMLIMIT in the
// environment turns it off.
package gctune

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Config is how far Run lets the heap grow between collections.
type Config struct {
	// MinTarget is the heap size a collection starts at, at least, while
	// twice the live heap is below it. Default 64 MiB.
	MinTarget uint64
	// Interval is how often the live heap is looked at. Default 1s.
	Interval time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config { return Config{MinTarget: 64 << 20, Interval: time.Second} }

// Default GOGC, and the most Run sets.
const (
	defaultPercent = 100
	maxPercent     = 5000
)

// Percent returns the GOGC that makes a collection start near minTarget
// given live bytes live, never below the default.
func Percent(live, minTarget uint64) int {
	if live == 0 || 2*live >= minTarget {
		return defaultPercent
	}
	p := (minTarget - live) * 100 / live
	return int(min(max(p, defaultPercent), maxPercent))
}

// Run adjusts GOGC every cfg.Interval until ctx is done, then restores
// the default. It returns at once when the environment sets GOGC or
// GOMEMLIMIT: the administrator chose.
func Run(ctx context.Context, cfg Config, log *slog.Logger) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		log.Info("gc: GOGC or GOMEMLIMIT set in the environment; not tuning")
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	current := defaultPercent
	defer func() { debug.SetGCPercent(defaultPercent) }()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := Percent(sample[0].Value.Uint64(), cfg.MinTarget); p != current {
				debug.SetGCPercent(p)
				current = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
