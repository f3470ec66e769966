package relay

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Config is the data path's part of the configuration. The appliance
// mounts it at the top level of the file (connect_timeout,
// half_close_timeout, keepalive).
type Config struct {
	// ConnectTimeout bounds each dial to a terminal server, and the write
	// of the replayed first packet. Default 3s.
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	// HalfCloseTimeout is how long one side may keep sending after the
	// other side closed its direction (FIN): then both are closed. RDP does
	// not use half-open connections, and some servers (xrdp) ignore the
	// client's FIN, which would hold the session slot. Default 5s.
	HalfCloseTimeout time.Duration `mapstructure:"half_close_timeout"`
	// Keepalive is the TCP keepalive on both sides of a session.
	Keepalive KeepaliveConfig `mapstructure:"keepalive"`
}

// KeepaliveConfig is TCP keepalive for client and server connections.
type KeepaliveConfig struct {
	// Idle before the first probe. Default 30s; negative disables keepalive.
	Idle time.Duration `mapstructure:"idle"`
	// Interval between probes. Default 10s.
	Interval time.Duration `mapstructure:"interval"`
	// Count of unanswered probes before the connection is dropped. Default 6.
	Count int `mapstructure:"count"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		ConnectTimeout:   3 * time.Second,
		HalfCloseTimeout: 5 * time.Second,
		Keepalive:        KeepaliveConfig{Idle: 30 * time.Second, Interval: 10 * time.Second, Count: 6},
	}
}

// Validate reports every invalid setting, each with its key.
func (c Config) Validate() error {
	var errs []error
	if c.ConnectTimeout <= 0 {
		errs = append(errs, fmt.Errorf("connect_timeout: %v: must be > 0", c.ConnectTimeout))
	}
	if c.HalfCloseTimeout <= 0 {
		errs = append(errs, fmt.Errorf("half_close_timeout: %v: must be > 0", c.HalfCloseTimeout))
	}
	if c.Keepalive.Idle >= 0 && (c.Keepalive.Interval <= 0 || c.Keepalive.Count <= 0) {
		errs = append(errs, errors.New("keepalive: interval and count must be > 0 (set idle < 0 to disable keepalive)"))
	}
	return errors.Join(errs...)
}

// Enabled reports whether keepalive is on.
func (k KeepaliveConfig) Enabled() bool { return k.Idle >= 0 }

// Socket returns the settings for net.TCPConn.SetKeepAliveConfig.
func (k KeepaliveConfig) Socket() net.KeepAliveConfig {
	if !k.Enabled() {
		return net.KeepAliveConfig{Enable: false}
	}
	return net.KeepAliveConfig{Enable: true, Idle: k.Idle, Interval: k.Interval, Count: k.Count}
}
