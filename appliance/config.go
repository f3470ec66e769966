package appliance

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/affinity"
	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/appliance/admission"
	"github.com/rdpbroker/rdpbroker/appliance/relay"
	"github.com/rdpbroker/rdpbroker/directory"
	"github.com/rdpbroker/rdpbroker/routing"
)

// Config is the whole YAML file. It composes each package's own Config:
// the appliance owns only the keys declared here; routing's keys (no_cookie,
// default_pool, pools, rules, ...) and the relay's (connect_timeout,
// half_close_timeout, keepalive) sit at the top level of the file, the
// directory's under "directory:", the affinity table's and the router's
// down_grace under "affinity:", replication under "peers:". Each package
// documents its defaults in its DefaultConfig and validates its own section;
// the appliance adds the section's prefix to the keys it reports. Keys not
// declared anywhere are errors.
type Config struct {
	// Listen is the client-facing address. Default ":3389".
	Listen string `mapstructure:"listen"`
	// InspectTimeout bounds the read of the first packet. Default 2s.
	InspectTimeout time.Duration `mapstructure:"inspect_timeout"`
	// StateDir holds persistent state (affinity, directory snapshots).
	// Default /var/lib/rdpbroker.
	StateDir string `mapstructure:"state_dir"`
	// MaxSessions caps concurrent proxied sessions; 0 = unlimited. Default 0.
	// The descriptor limit caps it too (fdlimit.go).
	MaxSessions int `mapstructure:"max_sessions"`
	// MaxPending caps clients still sending their first packet (each holds
	// a descriptor for up to inspect_timeout): beyond it new clients are
	// closed at once and counted as "limit", so a flood of silent
	// connections cannot exhaust descriptors. Default 1024.
	MaxPending int `mapstructure:"max_pending"`
	// ShutdownTimeout is how long a stopping broker lets sessions run before
	// closing them. Default 10s.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// Log selects the log format and level.
	Log LogConfig `mapstructure:"log"`
	// Admission is the per-source share of the pending slots and the
	// optional per-source caps (admission.Config).
	Admission admission.Config `mapstructure:"admission"`

	// UDP is the "udp:" section: the RDP-UDP relay (relay.UDPConfig).
	UDP relay.UDPConfig `mapstructure:"udp"`
	// Relay is the data path (relay.Config), mounted at the top level.
	Relay relay.Config `mapstructure:",squash"`
	// Routing is pools, rules and policies (routing.Config), mounted at the
	// top level.
	Routing routing.Config `mapstructure:",squash"`
	// Directory is the Active Directory group sync (directory.Config);
	// without directory.urls, rules' groups come from static_groups.
	Directory directory.Config `mapstructure:"directory"`
	// Affinity is the "affinity:" section: the login -> server table and
	// the router's down_grace.
	Affinity AffinityConfig `mapstructure:"affinity"`
	// Peers replicates the affinity table to the other brokers
	// (affinity.PeersConfig); empty: a single broker.
	Peers affinity.PeersConfig `mapstructure:"peers"`
	// Admin is the admin socket and the HTTP endpoint (metrics, status
	// page, health; admin.Config).
	Admin admin.Config `mapstructure:"admin"`
}

// AffinityConfig is the "affinity:" section. Two packages own its keys:
// the table's (expire, flush_interval, ...: affinity.Config) and the
// router's policy for an affined server that is down (down_grace:
// routing.AffinityConfig).
type AffinityConfig struct {
	Table  affinity.Config        `mapstructure:",squash"`
	Router routing.AffinityConfig `mapstructure:",squash"`
}

// LogConfig selects the log output.
type LogConfig struct {
	// Format is "text" (default) or "json".
	Format string `mapstructure:"format"`
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `mapstructure:"level"`
}

// DefaultConfig returns the appliance's defaults, documented on each field,
// composed with each package's DefaultConfig.
func DefaultConfig() Config {
	return Config{
		Listen:          ":3389",
		InspectTimeout:  2 * time.Second,
		StateDir:        "/var/lib/rdpbroker",
		ShutdownTimeout: 10 * time.Second,
		MaxPending:      1024,
		Log:             LogConfig{Format: "text", Level: "info"},
		Admission:       admission.DefaultConfig(),
		Relay:           relay.DefaultConfig(),
		UDP:             relay.DefaultUDPConfig(),
		Routing:         routing.DefaultConfig(),
		Directory:       directory.DefaultConfig(),
		Affinity:        AffinityConfig{Table: affinity.DefaultConfig(), Router: routing.DefaultAffinityConfig()},
		Peers:           affinity.DefaultPeersConfig(),
		Admin:           admin.DefaultConfig(),
	}
}

// RoutingConfig returns the routing configuration with the router's part of
// the affinity section in place: what the router applies.
func (c Config) RoutingConfig() routing.Config {
	r := c.Routing
	r.Affinity = c.Affinity.Router
	return r
}

// Validate checks every section and returns every problem joined, one per
// line, each starting with its full key path (nil when usable). The
// routing part is compiled, so logins files are read.
func (c Config) Validate() error {
	errs := c.validateOwn()
	errs = append(errs, section("", c.Relay.Validate())...)
	errs = append(errs, section("udp.", c.UDP.Validate())...)
	errs = append(errs, section("admission.", c.Admission.Validate())...)
	if _, err := routing.Compile(c.RoutingConfig(), routing.Options{}); err != nil {
		errs = append(errs, section("", err)...)
	}
	errs = append(errs, section("directory.", c.Directory.Validate())...)
	errs = append(errs, section("affinity.", c.Affinity.Table.Validate())...)
	errs = append(errs, section("affinity.", c.Affinity.Router.Validate())...)
	errs = append(errs, section("peers.", c.Peers.Validate())...)
	errs = append(errs, section("admin.", c.Admin.Validate())...)
	errs = append(errs, c.checkGroups()...)
	return errors.Join(errs...)
}

// validateOwn checks the keys the appliance itself owns.
func (c Config) validateOwn() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q: %v", c.Listen, err)
	}
	if c.InspectTimeout <= 0 || c.InspectTimeout > time.Minute {
		bad("inspect_timeout", "%v: must be > 0 and <= 1m", c.InspectTimeout)
	}
	if c.StateDir == "" {
		bad("state_dir", "must not be empty")
	}
	if c.MaxPending <= 0 {
		bad("max_pending", "%d: must be > 0", c.MaxPending)
	}
	if c.MaxSessions < 0 {
		bad("max_sessions", "%d: must be >= 0", c.MaxSessions)
	}
	if c.ShutdownTimeout < 0 {
		bad("shutdown_timeout", "%v: must be >= 0", c.ShutdownTimeout)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q: must be text or json", c.Log.Format)
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		bad("log.level", "%v", err)
	}
	return errs
}

// checkGroups: with a directory, every group a rule names must be synced,
// and static_groups would be ignored, so both are errors.
func (c Config) checkGroups() []error {
	if !c.Directory.Enabled() {
		return nil
	}
	var errs []error
	if len(c.Routing.StaticGroups) > 0 {
		errs = append(errs, errors.New("static_groups: not used when directory.urls is set; remove it"))
	}
	for i, r := range c.Routing.Rules {
		for _, g := range r.Groups {
			found := false
			for name := range c.Directory.Groups {
				found = found || strings.EqualFold(name, g)
			}
			if !found {
				errs = append(errs, fmt.Errorf("rules[%d].groups: %q is not in directory.groups", i, g))
			}
		}
	}
	return errs
}

// section splits a package's joined validation error into one error per
// problem, each prefixed with where the appliance mounts the package.
func section(prefix string, err error) []error {
	if err == nil {
		return nil
	}
	var out []error
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, errors.New(prefix+line))
		}
	}
	return out
}
