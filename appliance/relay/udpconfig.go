package relay

import (
	"errors"
	"fmt"
	"time"
)

// UDPConfig is the "udp:" section: the RDP-UDP transport (MS-RDPEUDP)
// relayed beside the TCP sessions.
type UDPConfig struct {
	// Enabled makes the broker listen on UDP at the address it listens
	// on for TCP, and relay each client's UDP flow to the server of its
	// TCP session. Default false.
	Enabled bool `mapstructure:"enabled"`
	// IdleTimeout ends a flow that relayed no datagram, either way, for
	// this long (RDP-UDP keepalives come every few seconds). Default 2m.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxFlows caps the flows relayed at once; a new flow beyond it is
	// dropped. Default 4096.
	MaxFlows int `mapstructure:"max_flows"`
	// MaxFlowsPerSession caps the flows of one TCP session (a client opens
	// one reliable and one lossy flow; a few more cover its retries).
	// Default 4.
	MaxFlowsPerSession int `mapstructure:"max_flows_per_session"`
}

// DefaultUDPConfig returns the defaults documented on UDPConfig.
func DefaultUDPConfig() UDPConfig {
	return UDPConfig{IdleTimeout: 2 * time.Minute, MaxFlows: 4096, MaxFlowsPerSession: 4}
}

// Validate reports every invalid setting, each with its key relative to
// the section.
func (c UDPConfig) Validate() error {
	var errs []error
	if c.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("idle_timeout: %v: must be > 0", c.IdleTimeout))
	}
	if c.MaxFlows <= 0 {
		errs = append(errs, fmt.Errorf("max_flows: %d: must be > 0", c.MaxFlows))
	}
	if c.MaxFlowsPerSession <= 0 {
		errs = append(errs, fmt.Errorf("max_flows_per_session: %d: must be > 0", c.MaxFlowsPerSession))
	}
	return errors.Join(errs...)
}
