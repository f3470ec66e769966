package directory

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config is the `directory:` section of the rdpbroker configuration. The
// mapstructure tags are the YAML keys. A Config with no URLs is disabled
// (Enabled reports false): routing then uses the static groups.
type Config struct {
	// URLs are the domain controllers, tried in order until one answers:
	// ldaps://host[:636], or ldap://host[:389] which is upgraded with
	// StartTLS unless AllowPlain is set. No default.
	URLs []string `mapstructure:"urls"`
	// CAFile is a PEM bundle used to verify the DCs' certificates. Empty:
	// the system roots. Default empty.
	CAFile string `mapstructure:"ca_file"`
	// ServerName overrides the name verified in the DC certificate
	// (default: the host of each URL).
	ServerName string `mapstructure:"server_name"`
	// AllowPlain permits ldap:// without StartTLS: the bind password then
	// crosses the network in clear. Default false.
	AllowPlain bool `mapstructure:"allow_plain"`
	// BindDN is the account the broker binds as, in any form AD accepts
	// (DN, DOMAIN\user, user@realm). Required.
	BindDN string `mapstructure:"bind_dn"`
	// BindPasswordFile holds the bind password (trailing newlines are
	// ignored). It is read at every sync, so a rotated password is picked up
	// without a reload; the password is never logged. Required.
	BindPasswordFile string `mapstructure:"bind_password_file"`
	// BaseDN is where users and bare group names are searched. Required.
	BaseDN string `mapstructure:"base_dn"`
	// Interval between scheduled syncs. Default 5m.
	Interval time.Duration `mapstructure:"interval"`
	// Jitter is the largest random delay added to each interval, so that
	// several brokers do not hit the DCs together. Default 10% of Interval.
	Jitter time.Duration `mapstructure:"jitter"`
	// Groups maps the group name used in rules to the group's DN, or to a
	// bare name (sAMAccountName or cn) looked up under BaseDN. Required.
	Groups map[string]string `mapstructure:"groups"`
	// Method resolves transitive membership: "chain" (one paged search per
	// group with LDAP_MATCHING_RULE_IN_CHAIN), "walk" (breadth-first walk
	// of `member` with range retrieval), or "auto": chain, and walk for a
	// group whose chain search fails or times out. Default "auto".
	Method string `mapstructure:"method"`
	// DialTimeout bounds connecting (TCP and TLS) to one DC. Default 5s.
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	// RequestTimeout bounds one LDAP request (one page). Default 60s: the
	// chain rule can be slow on large directories.
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
	// SyncTimeout bounds a whole sync. Default 10m.
	SyncTimeout time.Duration `mapstructure:"sync_timeout"`
	// PageSize is the paged-search page size (AD's MaxPageSize is 1000).
	// Default 500.
	PageSize int `mapstructure:"page_size"`
	// RangeWindow asks for `member;range=` windows of this many values;
	// 0 lets the server choose (AD returns 1500 or 5000 and a range marker
	// when a group has more). Default 0.
	RangeWindow int `mapstructure:"range_window"`
	// IncludeDisabled keeps disabled accounts in groups. Default false.
	IncludeDisabled bool `mapstructure:"include_disabled"`
	// IndexAllUsers also loads every enabled user's names (not only group
	// members), so that a truncated mstsc cookie is compared with all the
	// users it may designate, and a user outside every group is still known
	// by all name forms. Default true.
	IndexAllUsers bool `mapstructure:"index_all_users"`
	// ShrinkGuard: when a group loses more than this fraction of its members
	// in one sync, its previous membership is kept and a warning logged
	// until an operator confirms (Syncer.Trigger with confirm). 0 disables.
	// Default 0.5.
	ShrinkGuard float64 `mapstructure:"shrink_guard"`
	// ShrinkGuardMin: groups smaller than this are not guarded (a 2-member
	// group losing one is normal). Default 10.
	ShrinkGuardMin int `mapstructure:"shrink_guard_min"`
}

// DefaultConfig returns the defaults documented on Config (disabled: no
// URLs).
func DefaultConfig() Config {
	return Config{
		Interval:       5 * time.Minute,
		Method:         MethodAuto,
		DialTimeout:    5 * time.Second,
		RequestTimeout: 60 * time.Second,
		SyncTimeout:    10 * time.Minute,
		PageSize:       500,
		IndexAllUsers:  true,
		ShrinkGuard:    0.5,
		ShrinkGuardMin: 10,
	}
}

// Membership resolution methods (Config.Method).
const (
	MethodAuto  = "auto"
	MethodChain = "chain"
	MethodWalk  = "walk"
)

// Enabled reports whether an LDAP directory is configured.
func (c Config) Enabled() bool { return len(c.URLs) > 0 }

// Validate checks c; every problem is reported with its key relative to
// the section (the appliance mounts it under "directory."). A disabled
// Config is valid.
func (c Config) Validate() error {
	if !c.Enabled() {
		if len(c.Groups) > 0 {
			return errors.New("urls: required when groups is set")
		}
		return nil
	}
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, a...)...))
	}
	for i, raw := range c.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			bad(fmt.Sprintf("urls[%d]", i), "%v", err)
		case u.Scheme != "ldaps" && u.Scheme != "ldap":
			bad(fmt.Sprintf("urls[%d]", i), "%q: scheme must be ldaps or ldap", raw)
		case u.Host == "":
			bad(fmt.Sprintf("urls[%d]", i), "%q: no host", raw)
		}
	}
	if c.BindDN == "" {
		bad("bind_dn", "required")
	}
	if c.BindPasswordFile == "" {
		bad("bind_password_file", "required (the password never goes in the YAML)")
	}
	if c.BaseDN == "" {
		bad("base_dn", "required")
	}
	if len(c.Groups) == 0 {
		bad("groups", "at least one group is required")
	}
	for name, g := range c.Groups {
		if strings.TrimSpace(name) == "" || strings.TrimSpace(g) == "" {
			bad("groups", "empty group name or DN (%q: %q)", name, g)
		}
	}
	switch c.Method {
	case MethodAuto, MethodChain, MethodWalk:
	default:
		bad("method", "%q: must be auto, chain or walk", c.Method)
	}
	if c.Interval < time.Second {
		bad("interval", "%v: must be at least 1s", c.Interval)
	}
	if c.Jitter < 0 {
		bad("jitter", "%v: must not be negative", c.Jitter)
	}
	for key, d := range map[string]time.Duration{"dial_timeout": c.DialTimeout,
		"request_timeout": c.RequestTimeout, "sync_timeout": c.SyncTimeout} {
		if d <= 0 {
			bad(key, "%v: must be > 0", d)
		}
	}
	if c.PageSize < 1 {
		bad("page_size", "%d: must be >= 1", c.PageSize)
	}
	if c.RangeWindow < 0 {
		bad("range_window", "%d: must be >= 0", c.RangeWindow)
	}
	if c.ShrinkGuard < 0 || c.ShrinkGuard >= 1 {
		bad("shrink_guard", "%v: must be in [0, 1)", c.ShrinkGuard)
	}
	return errors.Join(errs...)
}

// jitter returns Jitter, or its default of 10% of Interval.
func (c Config) jitter() time.Duration {
	if c.Jitter > 0 {
		return c.Jitter
	}
	return c.Interval / 10
}
