package routing

import (
	"fmt"
	"slices"
	"time"
)

// Config is the routing part of the rdpbroker configuration. The appliance
// decodes YAML straight into it; the mapstructure tags are the YAML keys.
// Empty strings and zero pool, health and weight settings mean "default",
// so there an explicit 0 in YAML is the same as leaving the key out.
// Retries and Passive are taken as given (0 is a meaningful value): start
// from DefaultConfig, as the appliance does.
type Config struct {
	// NoCookie decides what happens to requests with neither an mstshash
	// cookie nor a routing token: "default" (the rules, then the default
	// pool), "reject" (ErrNoCookie) or "learned" (routed as the one login
	// the client's address presented a cookie for within LearnWindow;
	// with several or none, as "default"). Default "default".
	NoCookie string `mapstructure:"no_cookie"`
	// LearnWindow is how long a cookie teaches its client address its
	// login, for no_cookie: learned. Default 10m; 0 also means the default.
	LearnWindow time.Duration `mapstructure:"learn_window"`
	// UnknownCollection decides what happens to a tsv:// routing token
	// naming an RDS collection that no rule names: "default" (the rules,
	// then the default pool; Decision.UnknownCollection is set) or
	// "reject" (ErrUnknownCollection). Default "reject".
	UnknownCollection string `mapstructure:"unknown_collection"`
	// Ambiguous decides what happens when a truncated mstsc login designates
	// several users that the rules send to different pools: "default" (the
	// default pool), "first" (the pool of the first user, in directory
	// order) or "reject" (ErrAmbiguous). Default "default".
	Ambiguous string `mapstructure:"ambiguous"`
	// DefaultPool receives every request no rule matched. Required.
	DefaultPool string `mapstructure:"default_pool"`
	// Retries is how many more servers are tried after a failed connect
	// (a Decision carries at most 1+Retries candidates). Default 2.
	Retries int `mapstructure:"retries"`
	// Passive configures passive failure tracking (failed connects).
	Passive PassiveConfig `mapstructure:"passive"`
	// Pools are the server pools. Pool and server names are unique; a
	// server belongs to exactly one pool.
	Pools []PoolConfig `mapstructure:"pools"`
	// Rules map requests to pools; the first matching rule wins.
	Rules []RuleConfig `mapstructure:"rules"`
	// StaticGroups maps a group name to its member logins. It is the
	// Directory used when none is given (until the LDAP sync exists).
	// Group names compare case-insensitively.
	StaticGroups map[string][]string `mapstructure:"static_groups"`
	// Affinity is the router's affinity policy. The appliance mounts it in
	// the file's "affinity:" section, beside the table's own keys.
	Affinity AffinityConfig `mapstructure:"-"`
}

// AffinityConfig is how the router treats a user's affined server.
type AffinityConfig struct {
	// DownGrace is how long a user's affined server may be down before the
	// user is balanced elsewhere; meanwhile the user is refused (their
	// session may come back with the server). Default 5m; 0 also means
	// the default.
	DownGrace time.Duration `mapstructure:"down_grace"`
}

// DefaultAffinityConfig returns the defaults documented on AffinityConfig.
func DefaultAffinityConfig() AffinityConfig {
	return AffinityConfig{DownGrace: DefaultDownGrace}
}

// Validate reports an invalid setting with its key relative to where the
// section is mounted.
func (c AffinityConfig) Validate() error {
	if c.DownGrace < 0 {
		return fmt.Errorf("down_grace: %v: must be >= 0", c.DownGrace)
	}
	return nil
}

// PassiveConfig is passive failure tracking: a server whose connects fail
// MaxFails times in a row is taken out of rotation for FailTimeout.
type PassiveConfig struct {
	// MaxFails is the number of consecutive failed connects that make a
	// server unavailable; 0 disables passive tracking. Default 1.
	MaxFails int `mapstructure:"max_fails"`
	// FailTimeout is how long such a server stays unavailable; it must be
	// > 0 when MaxFails is. Default 10s.
	FailTimeout time.Duration `mapstructure:"fail_timeout"`
}

// PoolConfig is one pool of terminal servers.
type PoolConfig struct {
	// Name is the pool's unique, non-empty name.
	Name string `mapstructure:"name"`
	// Balance is the balancing policy: "leastconn" (fewest sessions per
	// weight) or "roundrobin" (smooth weighted round robin). Default
	// "leastconn".
	Balance string `mapstructure:"balance"`
	// Health is the active health check of the pool's servers.
	Health HealthConfig `mapstructure:"health"`
	// Servers are the pool's servers; at least one.
	Servers []ServerConfig `mapstructure:"servers"`
}

// HealthConfig is an active health check. A server starts healthy, goes
// down after Fall failed checks in a row, and comes back after Rise
// successful checks in a row.
type HealthConfig struct {
	// Check is "rdp" (an X.224 connection request must be answered), "tcp"
	// (a TCP connect must succeed) or "none" (always healthy). Default "rdp".
	Check string `mapstructure:"check"`
	// Interval between checks. Default 3s.
	Interval time.Duration `mapstructure:"interval"`
	// Timeout of one check. Default 2s.
	Timeout time.Duration `mapstructure:"timeout"`
	// Rise is the number of successful checks that bring a server up.
	// Default 2.
	Rise int `mapstructure:"rise"`
	// Fall is the number of failed checks that take a server down.
	// Default 3.
	Fall int `mapstructure:"fall"`
}

// ServerConfig is one terminal server.
type ServerConfig struct {
	// Name is unique across all pools.
	Name string `mapstructure:"name"`
	// Address is "host:port", port 1..65535. Only IP addresses can be
	// matched by msts routing tokens.
	Address string `mapstructure:"address"`
	// Weight is the server's share of new users, 1..256; 0 (or no key)
	// means the default, 1: with a plain int, "weight: 0" cannot be told
	// from a missing key. To stop placing new users on a server, drain it
	// (an admin state).
	Weight int `mapstructure:"weight"`
	// MaxSessions caps the server's concurrent sessions; 0 = unlimited.
	MaxSessions int `mapstructure:"max_sessions"`
	// UDPAddress is the "host:port" the RDP-UDP transport of the server's
	// sessions is relayed to (the appliance's udp: section). Default: Address.
	UDPAddress string `mapstructure:"udp_address"`
}

// RuleConfig maps requests to a pool. A rule matches when every criterion
// it sets matches; a list criterion matches when any entry does. A rule
// without criteria is an error.
type RuleConfig struct {
	// Name names the rule in decisions and logs. Default "rules[<index>]".
	Name string `mapstructure:"name"`
	// Pool is the pool the rule sends requests to. Required.
	Pool string `mapstructure:"pool"`
	// Logins lists logins in any form ("alice", "CORP\alice",
	// "alice@corp.example"); they compare by normalised user name.
	Logins []string `mapstructure:"logins"`
	// LoginsFile names a file of logins, one per line; blank lines and
	// lines starting with '#' are ignored. Its entries join Logins.
	LoginsFile string `mapstructure:"logins_file"`
	// Groups lists directory groups (case-insensitive).
	Groups []string `mapstructure:"groups"`
	// Networks lists client networks: CIDRs or single IPs, IPv4 or IPv6.
	Networks []string `mapstructure:"networks"`
	// Collection matches the collection of a tsv:// routing token
	// (case-insensitive).
	Collection string `mapstructure:"collection"`
	// Time restricts the rule to a weekly time window.
	Time *TimeWindowConfig `mapstructure:"time"`
}

// TimeWindowConfig is a weekly time window: on Days, from From to To.
type TimeWindowConfig struct {
	// Days are "mon".."sun" or ranges such as "mon-fri" (also "fri-mon").
	// Empty means every day. For a window crossing midnight, the day is
	// the one the window starts on.
	Days []string `mapstructure:"days"`
	// From is the start, "HH:MM", inclusive. Default "00:00".
	From string `mapstructure:"from"`
	// To is the end, "HH:MM" or "24:00", exclusive. To < From crosses
	// midnight; To == From (both default "00:00") is the whole day.
	To string `mapstructure:"to"`
	// Location is the IANA time zone of From and To. Default: local time.
	Location string `mapstructure:"location"`
}

// Values of Config.NoCookie, UnknownCollection and Ambiguous,
// PoolConfig.Balance and HealthConfig.Check.
const (
	// BalanceLeastConn: fewest sessions per weight first (LeastConn).
	BalanceLeastConn = "leastconn"
	// BalanceRoundRobin: smooth weighted round robin (RoundRobin).
	BalanceRoundRobin = "roundrobin"

	// CheckRDP: an X.224 Connection Request must be answered (rdp.Probe).
	CheckRDP = "rdp"
	// CheckTCP: a TCP connect must succeed.
	CheckTCP = "tcp"
	// CheckNone: no active check; the server is always healthy.
	CheckNone = "none"

	// PolicyDefault: send the request to the default pool.
	PolicyDefault = "default"
	// PolicyReject: refuse the request (ErrNoCookie, ErrUnknownCollection,
	// ErrAmbiguous).
	PolicyReject = "reject"
	// PolicyFirst: ambiguous only: the pool of the first identity.
	PolicyFirst = "first"
	// PolicyLearned: no_cookie only: the one login the client's address
	// presented within learn_window (learn.go).
	PolicyLearned = "learned"
)

// Defaults set by DefaultConfig (retries, passive) and by ApplyDefaults
// and Compile (the others), and the weight limit.
const (
	// DefaultRetries is Config.Retries.
	DefaultRetries = 2
	// DefaultMaxFails is PassiveConfig.MaxFails.
	DefaultMaxFails = 1
	// DefaultFailTimeout is PassiveConfig.FailTimeout.
	DefaultFailTimeout = 10 * time.Second
	// DefaultInterval is HealthConfig.Interval.
	DefaultInterval = 3 * time.Second
	// DefaultTimeout is HealthConfig.Timeout.
	DefaultTimeout = 2 * time.Second
	// DefaultRise is HealthConfig.Rise.
	DefaultRise = 2
	// DefaultFall is HealthConfig.Fall.
	DefaultFall = 3
	// DefaultWeight is ServerConfig.Weight.
	DefaultWeight = 1
	// MaxWeight is the largest ServerConfig.Weight.
	MaxWeight = 256
)

// DefaultConfig returns a Config with every top-level default set:
//
//   - no_cookie "default": requests without cookie or token go through the
//     rules, then to the default pool; learn_window 10m (no_cookie learned);
//   - unknown_collection "reject": a tsv:// token naming a collection no
//     rule names is refused;
//   - ambiguous "default": ambiguous truncated logins go to the default pool;
//   - retries 2: up to three servers are tried;
//   - passive.max_fails 1 and passive.fail_timeout 10s: one failed connect
//     takes a server out for 10 seconds.
//
// Pool and server defaults apply to each pool and server (ApplyDefaults,
// and Compile, fill them): balance "leastconn"; health check "rdp",
// interval 3s, timeout 2s, rise 2, fall 3; server weight 1. There is no
// default pool name: default_pool is required.
func DefaultConfig() Config {
	return Config{
		NoCookie:          PolicyDefault,
		LearnWindow:       DefaultLearnWindow,
		UnknownCollection: PolicyReject,
		Ambiguous:         PolicyDefault,
		Retries:           DefaultRetries,
		Passive:           PassiveConfig{MaxFails: DefaultMaxFails, FailTimeout: DefaultFailTimeout},
		Affinity:          DefaultAffinityConfig(),
	}
}

// ApplyDefaults fills the settings whose zero value means "default":
// no_cookie and ambiguous ("default"), unknown_collection ("reject"), and
// of every pool its balance
// ("leastconn") and health settings (see HealthConfig), and of every
// server its weight (1). Retries and Passive are left alone, as 0 is a
// meaningful value there (start from DefaultConfig for their defaults).
// Pools and their servers are copied before they are filled, so slices c
// shares with another Config are not modified. Compile applies the same
// defaults to its own copy; calling ApplyDefaults first changes nothing.
func (c *Config) ApplyDefaults() {
	if c.NoCookie == "" {
		c.NoCookie = PolicyDefault
	}
	if c.UnknownCollection == "" {
		c.UnknownCollection = PolicyReject
	}
	if c.Ambiguous == "" {
		c.Ambiguous = PolicyDefault
	}
	c.Pools = slices.Clone(c.Pools)
	for i := range c.Pools {
		p := &c.Pools[i]
		if p.Balance == "" {
			p.Balance = BalanceLeastConn
		}
		p.Health = p.Health.withDefaults()
		p.Servers = slices.Clone(p.Servers)
		for j := range p.Servers {
			if p.Servers[j].Weight == 0 {
				p.Servers[j].Weight = DefaultWeight
			}
		}
	}
}

// withDefaults returns h with zero fields set to their defaults.
func (h HealthConfig) withDefaults() HealthConfig {
	if h.Check == "" {
		h.Check = CheckRDP
	}
	if h.Interval == 0 {
		h.Interval = DefaultInterval
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultTimeout
	}
	if h.Rise == 0 {
		h.Rise = DefaultRise
	}
	if h.Fall == 0 {
		h.Fall = DefaultFall
	}
	return h
}
