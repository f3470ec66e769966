package routing

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// Options are Compile's injected dependencies; zero values get defaults.
type Options struct {
	// Now is the clock used by decisions whose Request has no Now.
	// Default time.Now.
	Now func() time.Time
	// Directory resolves logins. Default: a StaticDirectory of the
	// configuration's static_groups and of the logins its rules list.
	Directory Directory
	// Affinity is the affinity table Decide consults. Default: none.
	Affinity Affinity
	// ReadFile reads logins files. Default os.ReadFile.
	ReadFile func(name string) ([]byte, error)
}

// Compile validates cfg and builds an immutable Table. The error reports
// every problem, joined with errors.Join, each prefixed with its YAML key
// path, such as `pools[1].servers[0].address: "10.0.0.1": missing port in
// address` or `rules[3].pool: unknown pool "x"`. Compile does not modify
// cfg; it reads the logins files. Zero settings get their defaults (see
// Config.ApplyDefaults).
func Compile(cfg Config, opts Options) (*Table, error) {
	return compile(cfg, opts, nil)
}

// compiler collects problems while compiling.
type compiler struct {
	errs    []error
	prev    *Table          // servers whose live state is reused, or nil
	servers map[string]bool // every server name seen, valid or not
}

func (c *compiler) bad(key, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
}

// compile is Compile; servers of prev with the same pool, name and address
// keep their live state in the new table.
func compile(cfg Config, opts Options, prev *Table) (*Table, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	cfg.ApplyDefaults() // on copies: cfg's slices are not modified
	c := &compiler{prev: prev, servers: map[string]bool{}}
	t := &Table{
		retries:      cfg.Retries,
		ambiguous:    cfg.Ambiguous,
		poolByName:   make(map[string]*Pool, len(cfg.Pools)),
		serverByName: make(map[string]*Server),
		serverByAddr: make(map[netip.AddrPort]*Server),
		now:          opts.Now,
	}
	switch cfg.NoCookie {
	case PolicyDefault:
	case PolicyReject:
		t.noCookieReject = true
	case PolicyLearned:
		t.learn = compileLearn(cfg.LearnWindow, prev)
	default:
		c.bad("no_cookie", "%q: must be default, reject or learned", cfg.NoCookie)
	}
	if cfg.LearnWindow < 0 {
		c.bad("learn_window", "%v: must be >= 0", cfg.LearnWindow)
	}
	switch cfg.UnknownCollection {
	case PolicyDefault:
	case PolicyReject:
		t.unknownCollReject = true
	default:
		c.bad("unknown_collection", "%q: must be default or reject", cfg.UnknownCollection)
	}
	switch cfg.Ambiguous {
	case PolicyDefault, PolicyFirst, PolicyReject:
	default:
		c.bad("ambiguous", "%q: must be default, first or reject", cfg.Ambiguous)
	}
	if cfg.Retries < 0 {
		c.bad("retries", "%d: must be >= 0", cfg.Retries)
	}
	pc := cfg.Passive
	if pc.MaxFails < 0 {
		c.bad("passive.max_fails", "%d: must be >= 0", pc.MaxFails)
	}
	if pc.FailTimeout < 0 || (pc.FailTimeout == 0 && pc.MaxFails > 0) {
		c.bad("passive.fail_timeout", "%v: must be > 0 (or max_fails 0)", pc.FailTimeout)
	}
	addrOwner := make(map[string]string)
	for i, p := range cfg.Pools {
		c.pool(t, fmt.Sprintf("pools[%d]", i), p, pc, addrOwner)
	}
	switch {
	case cfg.DefaultPool == "":
		c.bad("default_pool", "required")
	case t.poolByName[cfg.DefaultPool] == nil:
		c.bad("default_pool", "unknown pool %q", cfg.DefaultPool)
	default:
		t.defaultPool = t.poolByName[cfg.DefaultPool]
	}
	var allLogins []string
	ruleNames := make(map[string]bool)
	for i, rc := range cfg.Rules {
		if r := c.rule(t, i, rc, opts.ReadFile, ruleNames); r != nil {
			t.rules = append(t.rules, r)
			allLogins = append(allLogins, r.loginList...)
		}
	}
	groups := slices.Sorted(func(yield func(string) bool) {
		for g := range cfg.StaticGroups {
			if !yield(g) {
				return
			}
		}
	})
	for _, g := range groups {
		if strings.TrimSpace(g) == "" {
			c.bad("static_groups", "empty group name")
		}
		for j, m := range cfg.StaticGroups[g] {
			if rdp.NormalizeLogin(m).Name == "" {
				c.bad(fmt.Sprintf("static_groups.%s[%d]", g, j), "%q: no user name", m)
			}
		}
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	t.static = NewStaticDirectory(cfg.StaticGroups, allLogins)
	t.dir = opts.Directory
	t.aff, t.downGrace = opts.Affinity, cfg.Affinity.DownGrace
	if t.downGrace <= 0 {
		t.downGrace = DefaultDownGrace
	}
	if t.dir == nil {
		t.dir = t.static
	}
	return t, nil
}

func (c *compiler) pool(t *Table, key string, pc PoolConfig, passive PassiveConfig, addrOwner map[string]string) {
	p := &Pool{Name: pc.Name, Balance: pc.Balance, Health: pc.Health}
	switch {
	case pc.Name == "":
		c.bad(key+".name", "must not be empty")
	case t.poolByName[pc.Name] != nil:
		c.bad(key+".name", "duplicate pool %q", pc.Name)
	default:
		t.poolByName[pc.Name] = p
	}
	t.pools = append(t.pools, p)
	switch pc.Balance {
	case BalanceLeastConn, BalanceRoundRobin:
	default:
		c.bad(key+".balance", "%q: must be leastconn or roundrobin", pc.Balance)
	}
	h := p.Health
	switch h.Check {
	case CheckRDP, CheckTCP, CheckNone:
	default:
		c.bad(key+".health.check", "%q: must be rdp, tcp or none", h.Check)
	}
	if h.Interval < 0 {
		c.bad(key+".health.interval", "%v: must be > 0", h.Interval)
	}
	if h.Timeout < 0 {
		c.bad(key+".health.timeout", "%v: must be > 0", h.Timeout)
	}
	if h.Rise < 0 {
		c.bad(key+".health.rise", "%d: must be >= 1", h.Rise)
	}
	if h.Fall < 0 {
		c.bad(key+".health.fall", "%d: must be >= 1", h.Fall)
	}
	if len(pc.Servers) == 0 {
		c.bad(key+".servers", "must have at least one server")
	}
	for j, sc := range pc.Servers {
		if s := c.server(t, fmt.Sprintf("%s.servers[%d]", key, j), p, sc, passive, addrOwner); s != nil {
			p.Servers = append(p.Servers, s)
		}
	}
	p.policy = newPolicy(p.Balance, len(p.Servers))
}

func (c *compiler) server(t *Table, key string, p *Pool, sc ServerConfig, passive PassiveConfig, addrOwner map[string]string) *Server {
	ok := true
	switch {
	case sc.Name == "":
		c.bad(key+".name", "must not be empty")
		ok = false
	case c.servers[sc.Name]:
		c.bad(key+".name", "duplicate server %q", sc.Name)
		ok = false
	}
	c.servers[sc.Name] = true
	ap, canon, err := checkAddress(sc.Address)
	if err != nil {
		c.bad(key+".address", "%q: %v", sc.Address, err)
		ok = false
	} else if other, dup := addrOwner[canon]; dup {
		c.bad(key+".address", "%q: duplicate address (server %q)", sc.Address, other)
		ok = false
	}
	if sc.Weight < 0 || sc.Weight > MaxWeight {
		c.bad(key+".weight", "%d: must be 0..%d", sc.Weight, MaxWeight)
		ok = false
	}
	if sc.MaxSessions < 0 {
		c.bad(key+".max_sessions", "%d: must be >= 0", sc.MaxSessions)
		ok = false
	}
	udp := sc.UDPAddress
	if udp == "" {
		udp = sc.Address
	} else if _, _, err := checkAddress(udp); err != nil {
		c.bad(key+".udp_address", "%q: %v", udp, err)
		ok = false
	}
	if !ok {
		return nil
	}
	addrOwner[canon] = sc.Name
	s := &Server{
		Name: sc.Name, Address: sc.Address, Pool: p.Name, Weight: sc.Weight, MaxSessions: sc.MaxSessions,
		UDPAddress: udp, check: p.Health.Check, maxFails: passive.MaxFails, failTimeout: passive.FailTimeout,
	}
	if old := c.prevServer(s); old != nil {
		if *old == (Server{Name: s.Name, Address: s.Address, Pool: s.Pool, Weight: s.Weight, MaxSessions: s.MaxSessions,
			UDPAddress: s.UDPAddress, check: s.check, maxFails: s.maxFails, failTimeout: s.failTimeout, st: old.st}) {
			s = old // nothing changed: same object
		} else {
			s.st = old.st
		}
	} else {
		s.st = newServerState(s.Name, s.Pool, s.Address)
	}
	t.serverByName[s.Name] = s
	t.servers = append(t.servers, s)
	if ap.IsValid() {
		t.serverByAddr[ap] = s
	}
	return s
}

// prevServer returns the server of the previous table with s's pool,
// name and address.
func (c *compiler) prevServer(s *Server) *Server {
	if c.prev == nil {
		return nil
	}
	old := c.prev.serverByName[s.Name]
	if old == nil || old.Pool != s.Pool || old.Address != s.Address {
		return nil
	}
	return old
}

func (c *compiler) rule(t *Table, i int, rc RuleConfig, readFile func(string) ([]byte, error), names map[string]bool) *rule {
	key := fmt.Sprintf("rules[%d]", i)
	r := &rule{name: rc.Name}
	nerrs := len(c.errs)
	switch {
	case rc.Name == "":
		r.name = key
	case rc.Name == RuleDefault || rc.Name == RuleNoCookie || rc.Name == RuleMSTSToken || rc.Name == RuleUnknownCollection:
		c.bad(key+".name", "%q: reserved name", rc.Name)
	case names[rc.Name]:
		c.bad(key+".name", "duplicate rule %q", rc.Name)
	}
	names[r.name] = true
	switch {
	case rc.Pool == "":
		c.bad(key+".pool", "required")
	case t.poolByName[rc.Pool] == nil:
		c.bad(key+".pool", "unknown pool %q", rc.Pool)
	default:
		r.pool = t.poolByName[rc.Pool]
	}
	if len(rc.Logins) == 0 && rc.LoginsFile == "" && len(rc.Groups) == 0 && len(rc.Networks) == 0 &&
		rc.Collection == "" && rc.Time == nil {
		c.bad(key, "no criteria")
	}
	r.hasLogins = len(rc.Logins) > 0 || rc.LoginsFile != ""
	r.loginSet = make(map[string]struct{})
	for j, l := range rc.Logins {
		if n := rdp.NormalizeLogin(l).Name; n != "" {
			r.loginSet[n] = struct{}{}
		} else {
			c.bad(fmt.Sprintf("%s.logins[%d]", key, j), "%q: no user name", l)
		}
	}
	if rc.LoginsFile != "" {
		data, err := readFile(rc.LoginsFile)
		if err != nil {
			c.bad(key+".logins_file", "%w", err)
		}
		for n, line := range bytes.Split(data, []byte("\n")) {
			s := strings.TrimSpace(string(line))
			if s == "" || s[0] == '#' {
				continue
			}
			if l := rdp.NormalizeLogin(s).Name; l != "" {
				r.loginSet[l] = struct{}{}
			} else {
				c.bad(key+".logins_file", "%s:%d: %q: no user name", rc.LoginsFile, n+1, s)
			}
		}
	}
	for l := range r.loginSet {
		r.loginList = append(r.loginList, l)
	}
	slices.Sort(r.loginList)
	for j, g := range rc.Groups {
		if strings.TrimSpace(g) == "" {
			c.bad(fmt.Sprintf("%s.groups[%d]", key, j), "empty group name")
		}
		r.groups = append(r.groups, strings.ToLower(strings.TrimSpace(g)))
	}
	for j, n := range rc.Networks {
		p, err := parseNetwork(n)
		if err != nil {
			c.bad(fmt.Sprintf("%s.networks[%d]", key, j), "%q: %v", n, err)
		}
		r.networks = append(r.networks, p)
	}
	r.collection = strings.TrimSpace(rc.Collection)
	if rc.Time != nil {
		r.window = compileWindow(rc.Time, key+".time", c.bad)
	}
	if len(c.errs) > nerrs {
		return nil
	}
	var crit []string
	for _, k := range []struct {
		set  bool
		name string
	}{
		{r.hasLogins, "logins"}, {len(r.groups) > 0, "groups"}, {len(r.networks) > 0, "networks"},
		{r.collection != "", "collection"}, {r.window != nil, "time"},
	} {
		if k.set {
			crit = append(crit, k.name)
		}
	}
	r.criteria = strings.Join(crit, "+")
	return r
}
