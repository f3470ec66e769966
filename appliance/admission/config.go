package admission

import (
	"errors"
	"fmt"
)

// Config is the "admission:" section: per-source limits. The global cap on
// pending clients (max_pending) stays at the top level of the file.
type Config struct {
	// MaxPendingPerSource is how many of the max_pending slots one source
	// (IPv4 address, IPv6 /64) may hold at once; beyond it its new
	// connections are closed at once ("source_limit"). Values above
	// max_pending mean max_pending. Default 256 (a quarter of the default
	// max_pending).
	MaxPendingPerSource int `mapstructure:"max_pending_per_source"`
	// RatePerSource caps the new connections one source may open per
	// second, averaged (a token bucket of BurstPerSource); 0 = no cap.
	// Default 0: many users may share one NAT address.
	RatePerSource float64 `mapstructure:"rate_per_source"`
	// BurstPerSource is how many connections a source may open at once
	// before RatePerSource applies. Default 0 = 2 x RatePerSource (at
	// least 1).
	BurstPerSource int `mapstructure:"burst_per_source"`
	// MaxConnectionsPerSource caps the connections one source holds at
	// once, pending or proxied; 0 = no cap. Default 0.
	MaxConnectionsPerSource int `mapstructure:"max_connections_per_source"`
	// HoldRefused is how many connections refused for their source's sake
	// are held open, unread, for one to two inspect_timeouts before being
	// closed: a flood that reconnects as soon as it is closed then comes
	// back at that pace instead of as fast as it can. Each costs a
	// descriptor (taken from the sessions' budget) and no CPU; beyond it,
	// and never more than a quarter of the descriptor limit, they are
	// closed at once. 0 = close at once. Default 4096.
	HoldRefused int `mapstructure:"hold_refused"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{MaxPendingPerSource: 256, HoldRefused: 4096}
}

// Validate reports every invalid setting, each with its key.
func (c Config) Validate() error {
	var errs []error
	if c.MaxPendingPerSource <= 0 {
		errs = append(errs, fmt.Errorf("max_pending_per_source: %d: must be > 0", c.MaxPendingPerSource))
	}
	if c.RatePerSource < 0 {
		errs = append(errs, fmt.Errorf("rate_per_source: %v: must be >= 0", c.RatePerSource))
	}
	if c.BurstPerSource < 0 {
		errs = append(errs, fmt.Errorf("burst_per_source: %d: must be >= 0", c.BurstPerSource))
	}
	if c.BurstPerSource > 0 && c.RatePerSource == 0 {
		errs = append(errs, errors.New("burst_per_source: set without rate_per_source"))
	}
	if c.MaxConnectionsPerSource < 0 {
		errs = append(errs, fmt.Errorf("max_connections_per_source: %d: must be >= 0", c.MaxConnectionsPerSource))
	}
	if c.HoldRefused < 0 {
		errs = append(errs, fmt.Errorf("hold_refused: %d: must be >= 0", c.HoldRefused))
	}
	return errors.Join(errs...)
}

// burst is the token bucket's size.
func (c Config) burst() float64 {
	if c.BurstPerSource > 0 {
		return float64(c.BurstPerSource)
	}
	return max(1, 2*c.RatePerSource)
}
