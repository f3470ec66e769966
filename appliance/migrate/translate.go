package migrate

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/rdpbroker/rdpbroker/routing"
)

// Options are Translate's settings and injected file access.
type Options struct {
	// ACLRoot is where -f files whose paths do not exist are looked for:
	// ACLRoot/<path> (a copy of the old server's root), then
	// ACLRoot/<base name> (a copy of its /usr/local/etc/haproxy).
	ACLRoot string
	// LoginsDir is the directory the generated logins files are written
	// to, as the YAML names them (logins_file: LoginsDir/<name>). Use an
	// absolute path: rdpbroker reads logins_file relative to its working
	// directory. Default "logins".
	LoginsDir string
	// StateDir is the YAML state_dir. Default /var/lib/rdpbroker.
	StateDir string
	// WholeLogins compares whole logins where HAProxy compared a
	// bytes(0,N) prefix: what the group files say, rather than what
	// HAProxy did. Default false: reproduce HAProxy's matches.
	WholeLogins bool
	// ReadFile reads -f files. Default os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// Exists reports whether a file exists. Default: os.Stat succeeds.
	Exists func(name string) bool
}

// Result is a translation.
type Result struct {
	// YAML is the rdpbroker configuration.
	YAML []byte
	// Files are the logins files the YAML references, to be written into
	// Options.LoginsDir.
	Files []File
	// Warnings are the constructs not translated as such, in file order
	// of discovery.
	Warnings []Warning
	// Pools, Servers and Rules count what the YAML holds.
	Pools, Servers, Rules int
	// Backends are HAProxy's backends that became pools, by name: their
	// servers' numeric ids and stick keys, for seeding affinity.
	Backends map[string]*Backend
	// KnownLogins are the logins every logins list names (lower-case, as
	// listed): a stick key truncated by bytes(0,N) is seeded for the known
	// logins it starts.
	KnownLogins []string
	// Expire is the YAML's affinity.expire (the longest stick-table
	// expire, else rdpbroker's default).
	Expire time.Duration
}

// File is a generated logins file.
type File struct {
	Name string // base name inside LoginsDir
	Data []byte
}

// Backend is an HAProxy backend translated into a pool.
type Backend struct {
	Name    string
	Line    int
	Servers []BackendServer
	// StickTruncate is N of a bytes(0,N) on the stick key (0: whole
	// cookie); StickLine the line of the stick rule (0: none).
	StickTruncate int
	StickLine     int
}

// BackendServer is one server of a backend.
type BackendServer struct {
	HAProxyName string // name in haproxy.cfg (server_key/server_name)
	ID          int    // HAProxy's numeric id (server_id)
	Name        string // rdpbroker server name ("" when not translated)
}

// ErrTranslate wraps the errors that make a translation impossible (no
// TCP frontend, a missing -f file, an unknown backend).
var ErrTranslate = errors.New("cannot translate")

// out is the rdpbroker configuration being built.
type out struct {
	listen, listenFrom     string
	inspect                time.Duration
	inspectFrom            string
	connect                time.Duration
	maxSessions            int
	noCookie               string
	stateDir               string
	defaultPool            string
	defaultFrom            string
	expire                 time.Duration
	expireFrom             string
	pools                  []pool
	rules                  []rule
	ruleNames              map[string]bool
	serverNames, addresses map[string]string // -> pool
}

type pool struct {
	routing.PoolConfig
	from string // "backend X, haproxy.cfg:N"
}

type rule struct {
	routing.RuleConfig
	from string // the use_backend line
}

// translator holds the state of one Translate call.
type translator struct {
	cfg      *Config
	opts     Options
	ws       warnings
	o        out
	res      *Result
	defaults *Section
	acls     map[string][]*aclDef // of the frontend being translated
	known    map[string]bool      // lower-case logins of every login ACL
	files    map[string]bool      // generated file names
	// unconditional is set by a use_backend that matches everything: the
	// rules after it, and default_backend, are unreachable.
	unconditional bool
	normalised    bool // the login normalisation warning was given
}

// Translate turns a parsed HAProxy configuration into an rdpbroker one.
// It reads the -f files of the ACLs. Everything it cannot reproduce is a
// Warning with the file and line; the error (wrapping ErrTranslate) is for
// configurations it cannot translate at all.
func Translate(cfg *Config, opts Options) (*Result, error) {
	if opts.LoginsDir == "" {
		opts.LoginsDir = "logins"
	}
	if opts.StateDir == "" {
		opts.StateDir = "/var/lib/rdpbroker"
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	if opts.Exists == nil {
		opts.Exists = func(n string) bool { _, err := os.Stat(n); return err == nil }
	}
	t := &translator{
		cfg: cfg, opts: opts, ws: warnings{file: cfg.File},
		res:   &Result{Backends: map[string]*Backend{}},
		known: map[string]bool{}, files: map[string]bool{},
		o: out{stateDir: opts.StateDir, noCookie: routing.PolicyDefault, ruleNames: map[string]bool{},
			serverNames: map[string]string{}, addresses: map[string]string{}},
	}
	if err := t.run(); err != nil {
		return nil, err
	}
	t.res.YAML = t.o.emit()
	t.res.Warnings = t.ws.list
	slices.SortStableFunc(t.res.Warnings, func(a, b Warning) int { return a.Line - b.Line })
	t.res.Pools, t.res.Rules = len(t.o.pools), len(t.o.rules)
	for _, p := range t.o.pools {
		t.res.Servers += len(p.Servers)
	}
	for k := range t.known {
		t.res.KnownLogins = append(t.res.KnownLogins, k)
	}
	slices.Sort(t.res.KnownLogins)
	t.res.Expire = cmp.Or(t.o.expire, defaultExpire)
	return t.res, nil
}

func (t *translator) run() error {
	var front, frontDefaults *Section
	for _, s := range t.cfg.Sections {
		switch s.Kind {
		case "global":
			t.global(s)
		case "defaults":
			t.defaults = s
		case "backend", "listen":
			if t.mode(s) != "tcp" {
				t.ws.note(s.Line, "%s %s: not mode tcp (an HTTP service such as the statistics page): ignored; rdpbroker's own status page and metrics are configured separately", s.Kind, s.Name)
				continue
			}
			if err := t.backend(s); err != nil {
				return err
			}
			if s.Kind == "listen" && front == nil {
				front, frontDefaults = s, t.defaults
			}
		case "frontend":
			switch {
			case t.mode(s) != "tcp":
				t.ws.note(s.Line, "frontend %s: not mode tcp: ignored", s.Name)
			case front != nil:
				t.ws.warn(s.Line, "frontend %s: rdpbroker has one listener: only frontend %s (line %d) is translated", s.Name, front.Name, front.Line)
			default:
				front, frontDefaults = s, t.defaults
			}
		default:
			t.ws.warn(s.Line, "%s section: no rdpbroker equivalent: ignored", s.Kind)
		}
	}
	if front == nil {
		return fmt.Errorf("migrate: %s: %w: no TCP frontend or listen section", t.cfg.File, ErrTranslate)
	}
	t.defaults = frontDefaults
	return t.frontend(front)
}

// mode is the section's mode, inherited from the defaults ("tcp" unless
// "http" is set, as rdpbroker only routes TCP).
func (t *translator) mode(s *Section) string {
	m := "tcp"
	for _, d := range t.inherited(s) {
		if d.Keyword() == "mode" && len(d.Args()) > 0 {
			m = d.Args()[0]
		}
	}
	return m
}

// inherited is the current defaults section's directives, then s's.
func (t *translator) inherited(s *Section) []Directive {
	var ds []Directive
	if t.defaults != nil {
		ds = append(ds, t.defaults.Directives...)
	}
	return append(ds, s.Directives...)
}

func (t *translator) global(s *Section) {
	for _, d := range s.Directives {
		switch d.Keyword() {
		case "maxconn":
			t.maxconn(d)
		case "daemon", "log", "stats", "user", "group", "chroot", "pidfile", "nbthread", "nbproc", "cpu-map",
			"ca-base", "crt-base", "master-worker", "ssl-default-bind-ciphers", "ssl-default-bind-options",
			"ssl-default-bind-ciphersuites", "ssl-default-server-options", "ssl-default-server-ciphers",
			"tune.ssl.default-dh-param", "spread-checks", "uid", "gid", "ulimit-n", "server-state-file":
			t.ws.note(d.Line, "global %q: no effect on routing: ignored", d.String())
		default:
			t.ws.warn(d.Line, "global %q: not translated", d.String())
		}
	}
}

// maxconn maps a global or frontend maxconn to max_sessions (the lowest).
func (t *translator) maxconn(d Directive) {
	n, ok := intArg(d, 1)
	if !ok {
		t.ws.warn(d.Line, "%q: not a number: ignored", d.String())
		return
	}
	if t.o.maxSessions == 0 || n < t.o.maxSessions {
		t.o.maxSessions = n
	}
}

// intArg parses argument i (1-based) of d as a non-negative integer.
func intArg(d Directive, i int) (int, bool) {
	if len(d.Words) <= i {
		return 0, false
	}
	var n int
	_, err := fmt.Sscanf(d.Words[i], "%d", &n)
	return n, err == nil && n >= 0 && fmt.Sprint(n) == d.Words[i]
}
