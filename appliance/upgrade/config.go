package upgrade

import (
	"errors"
	"fmt"
	"time"
)

// Config bounds each step of an upgrade. Every bound that passes leaves
// the old process serving as before (the new one is killed), except
// QuiesceTimeout and SettleTimeout, which only leave a session with the
// old process.
type Config struct {
	// StartTimeout: the new process must have loaded and validated its
	// configuration (hello) within this. Default 30s.
	StartTimeout time.Duration
	// ReadyTimeout: after the listeners and the affinity store were handed
	// over, the new process must serve (ready) within this. Default 30s.
	ReadyTimeout time.Duration
	// PauseTimeout: the old accept loop must stop within this. Default 5s.
	PauseTimeout time.Duration
	// QuiesceTimeout: how long one session may take to stop at a clean
	// point (a direction blocked writing to a peer that does not read);
	// past it, the session stays with the old process until it ends.
	// Default 2s.
	QuiesceTimeout time.Duration
	// AckTimeout: the new process must adopt a passed session within
	// this, else the old one resumes it. Default 10s.
	AckTimeout time.Duration
	// SettleTimeout: how long to wait for clients accepted before the
	// pause to become sessions (or go) so they are handed over too.
	// Default 5s.
	SettleTimeout time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		StartTimeout:   30 * time.Second,
		ReadyTimeout:   30 * time.Second,
		PauseTimeout:   5 * time.Second,
		QuiesceTimeout: 2 * time.Second,
		AckTimeout:     10 * time.Second,
		SettleTimeout:  5 * time.Second,
	}
}

// Validate reports every bound that is not positive.
func (c Config) Validate() error {
	var errs []error
	for _, b := range []struct {
		key string
		v   time.Duration
	}{{"start_timeout", c.StartTimeout}, {"ready_timeout", c.ReadyTimeout}, {"pause_timeout", c.PauseTimeout},
		{"quiesce_timeout", c.QuiesceTimeout}, {"ack_timeout", c.AckTimeout}, {"settle_timeout", c.SettleTimeout}} {
		if b.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: %v: must be > 0", b.key, b.v))
		}
	}
	return errors.Join(errs...)
}
