package appliance

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/rdpbroker/rdpbroker/affinity"
	"github.com/rdpbroker/rdpbroker/directory"
	"github.com/rdpbroker/rdpbroker/routing"
)

// EnvPrefix prefixes environment overrides of top-level scalar keys:
// RDPBROKER_LISTEN=127.0.0.1:3390 overrides `listen`,
// RDPBROKER_INSPECT_TIMEOUT=5s overrides `inspect_timeout`.
const EnvPrefix = "RDPBROKER"

// Config is the whole YAML file. Field tags are the YAML key names; keys not
// listed here are errors.
type Config struct {
	// Listen is the client-facing address. Default ":3389".
	Listen string `mapstructure:"listen"`
	// InspectTimeout bounds the read of the first packet. Default 2s.
	InspectTimeout time.Duration `mapstructure:"inspect_timeout"`
	// ConnectTimeout bounds each dial to a terminal server. Default 3s.
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	// StateDir holds persistent state (affinity, directory snapshots).
	// Default /var/lib/rdpbroker.
	StateDir string `mapstructure:"state_dir"`
	// MaxSessions caps concurrent proxied sessions; 0 = unlimited. Default 0.
	MaxSessions int `mapstructure:"max_sessions"`
	// MaxPending caps clients still sending their first packet (each holds
	// a descriptor for up to inspect_timeout): beyond it new clients are
	// closed at once and counted as "limit", so a flood of silent
	// connections cannot exhaust descriptors. Default 1024.
	MaxPending int `mapstructure:"max_pending"`
	// HalfCloseTimeout is how long one side may keep sending after the
	// other side closed its direction (FIN): then both are closed. RDP does
	// not use half-open connections, and some servers (xrdp) ignore the
	// client's FIN, which would hold the session slot. Default 5s.
	HalfCloseTimeout time.Duration `mapstructure:"half_close_timeout"`
	// ShutdownTimeout is how long a stopping broker lets sessions run before
	// closing them. Default 10s.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// Keepalive is the TCP keepalive on both sides of a session.
	Keepalive KeepaliveConfig `mapstructure:"keepalive"`
	// Log selects the log format and level.
	Log LogConfig `mapstructure:"log"`

	// Routing keys (see routing.Config for their meaning and defaults).
	NoCookie     string                `mapstructure:"no_cookie"`
	Ambiguous    string                `mapstructure:"ambiguous"`
	DefaultPool  string                `mapstructure:"default_pool"`
	Retries      int                   `mapstructure:"retries"`
	Passive      routing.PassiveConfig `mapstructure:"passive"`
	Pools        []routing.PoolConfig  `mapstructure:"pools"`
	Rules        []routing.RuleConfig  `mapstructure:"rules"`
	StaticGroups map[string][]string   `mapstructure:"static_groups"`

	// Directory is the Active Directory group sync (see directory.Config);
	// without directory.urls, rules' groups come from static_groups.
	Directory directory.Config `mapstructure:"directory"`

	// Affinity is the login -> server table (see affinity.Config): expire
	// (8h), down_grace (5m), flush_interval (100ms), ...
	Affinity affinity.Config `mapstructure:"affinity"`
	// Peers replicates the affinity table to the other brokers (see
	// affinity.PeersConfig); empty: a single broker.
	Peers affinity.PeersConfig `mapstructure:"peers"`
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

// LogConfig selects the log output.
type LogConfig struct {
	// Format is "text" (default) or "json".
	Format string `mapstructure:"format"`
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `mapstructure:"level"`
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	rc := routing.DefaultConfig()
	return Config{
		Listen:           ":3389",
		InspectTimeout:   2 * time.Second,
		ConnectTimeout:   3 * time.Second,
		StateDir:         "/var/lib/rdpbroker",
		ShutdownTimeout:  10 * time.Second,
		MaxPending:       1024,
		HalfCloseTimeout: 5 * time.Second,
		Keepalive:        KeepaliveConfig{Idle: 30 * time.Second, Interval: 10 * time.Second, Count: 6},
		Log:              LogConfig{Format: "text", Level: "info"},
		NoCookie:         rc.NoCookie,
		Ambiguous:        rc.Ambiguous,
		Retries:          rc.Retries,
		Passive:          rc.Passive,
		Directory:        directory.DefaultConfig(),
		Affinity:         affinity.DefaultConfig(),
		Peers:            affinity.DefaultPeersConfig(),
	}
}

// Routing returns the routing part of the configuration.
func (c Config) Routing() routing.Config {
	return routing.Config{
		NoCookie:     c.NoCookie,
		Ambiguous:    c.Ambiguous,
		DefaultPool:  c.DefaultPool,
		Retries:      c.Retries,
		Passive:      c.Passive,
		Pools:        c.Pools,
		Rules:        c.Rules,
		StaticGroups: c.StaticGroups,
		DownGrace:    c.Affinity.DownGrace,
	}
}

// keyDelim separates nested keys inside viper.
const keyDelim = "::"

// LoadConfig reads a YAML file, applies environment overrides and defaults,
// and validates everything (including the routing state it describes, so
// logins files are read). The error lists every problem, one per line, each
// starting with its key path.
func LoadConfig(path string) (Config, error) {
	// "::" as viper's key delimiter, not ".": map keys such as AD group
	// names ("RDS.Users") and logins may contain dots.
	v := viper.NewWithOptions(viper.KeyDelimiter(keyDelim))
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(keyDelim, "_"))
	v.AutomaticEnv()
	def := DefaultConfig()
	// Defaults make the scalar keys known to viper, so env overrides apply.
	for k, val := range map[string]any{
		"listen": def.Listen, "inspect_timeout": def.InspectTimeout, "connect_timeout": def.ConnectTimeout,
		"state_dir": def.StateDir, "max_pending": def.MaxPending, "max_sessions": def.MaxSessions,
		"half_close_timeout": def.HalfCloseTimeout, "shutdown_timeout": def.ShutdownTimeout,
		"keepalive.idle": def.Keepalive.Idle, "keepalive.interval": def.Keepalive.Interval,
		"keepalive.count": def.Keepalive.Count, "log.format": def.Log.Format, "log.level": def.Log.Level,
		"no_cookie": def.NoCookie, "ambiguous": def.Ambiguous, "default_pool": "", "retries": def.Retries,
		"passive.max_fails": def.Passive.MaxFails, "passive.fail_timeout": def.Passive.FailTimeout,
		"directory.interval": def.Directory.Interval, "directory.method": def.Directory.Method,
		"directory.dial_timeout": def.Directory.DialTimeout, "directory.request_timeout": def.Directory.RequestTimeout,
		"directory.sync_timeout": def.Directory.SyncTimeout, "directory.page_size": def.Directory.PageSize,
		"directory.index_all_users": def.Directory.IndexAllUsers, "directory.shrink_guard": def.Directory.ShrinkGuard,
		"directory.shrink_guard_min": def.Directory.ShrinkGuardMin,
		"affinity.expire":            def.Affinity.Expire, "affinity.down_grace": def.Affinity.DownGrace,
		"affinity.flush_interval": def.Affinity.FlushInterval, "affinity.prune_interval": def.Affinity.PruneInterval,
		"affinity.refresh_after":   def.Affinity.RefreshAfter,
		"peers.push_pull_interval": def.Peers.PushPullInterval, "peers.gossip_interval": def.Peers.GossipInterval,
		"peers.join_retry_interval": def.Peers.JoinRetryInterval, "peers.max_peer_queue": def.Peers.MaxPeerQueue,
	} {
		v.SetDefault(strings.ReplaceAll(k, ".", keyDelim), val)
	}
	if err := v.ReadInConfig(); err != nil {
		return Config{}, fmt.Errorf("config: read %s: %w", path, err)
	}
	var cfg Config
	hook := viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
	))
	if err := v.UnmarshalExact(&cfg, hook); err != nil {
		return Config{}, fmt.Errorf("config: %s: %w", path, cleanDecodeError(err))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config: %s:\n%w", path, err)
	}
	return cfg, nil
}

// Validate checks the appliance keys and compiles the routing part, and
// returns every problem joined (nil when the configuration is usable).
func (c Config) Validate() error {
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
	if c.ConnectTimeout <= 0 {
		bad("connect_timeout", "%v: must be > 0", c.ConnectTimeout)
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
	if c.HalfCloseTimeout <= 0 {
		bad("half_close_timeout", "%v: must be > 0", c.HalfCloseTimeout)
	}
	if c.ShutdownTimeout < 0 {
		bad("shutdown_timeout", "%v: must be >= 0", c.ShutdownTimeout)
	}
	if c.Keepalive.Idle >= 0 && (c.Keepalive.Interval <= 0 || c.Keepalive.Count <= 0) {
		bad("keepalive", "interval and count must be > 0 (set idle < 0 to disable keepalive)")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q: must be text or json", c.Log.Format)
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		bad("log.level", "%v", err)
	}
	if _, err := routing.Compile(c.Routing(), routing.Options{}); err != nil {
		errs = append(errs, err)
	}
	if err := c.Directory.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Affinity.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Peers.Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.checkGroups()...)
	return errors.Join(errs...)
}

// checkGroups: with a directory, every group a rule names must be synced,
// and static_groups would be ignored, so both are errors.
func (c Config) checkGroups() []error {
	if !c.Directory.Enabled() {
		return nil
	}
	var errs []error
	if len(c.StaticGroups) > 0 {
		errs = append(errs, errors.New("static_groups: not used when directory.urls is set; remove it"))
	}
	for i, r := range c.Rules {
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

// cleanDecodeError turns mapstructure's multi-error text into one problem
// per line.
func cleanDecodeError(err error) error {
	s := strings.ReplaceAll(err.Error(), "decoding failed due to the following error(s):\n\n", "")
	return errors.New(strings.TrimSpace(s))
}
