package routing

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // every line of the error, in order
	}{
		{"no_cookie", func(c *Config) { c.NoCookie = "maybe" }, []string{`no_cookie: "maybe": must be default, reject or learned`}},
		{"ambiguous", func(c *Config) { c.Ambiguous = "any" }, []string{`ambiguous: "any": must be default, first or reject`}},
		{"retries", func(c *Config) { c.Retries = -1 }, []string{`retries: -1: must be >= 0`}},
		{"passive", func(c *Config) { c.Passive = PassiveConfig{MaxFails: -1, FailTimeout: -time.Second} }, []string{
			`passive.max_fails: -1: must be >= 0`, `passive.fail_timeout: -1s: must be > 0 (or max_fails 0)`}},
		{"passive timeout needed", func(c *Config) { c.Passive.FailTimeout = 0 }, []string{
			`passive.fail_timeout: 0s: must be > 0 (or max_fails 0)`}},
		{"default_pool missing", func(c *Config) { c.DefaultPool = "" }, []string{`default_pool: required`}},
		{"default_pool unknown", func(c *Config) { c.DefaultPool = "nowhere" }, []string{`default_pool: unknown pool "nowhere"`}},
		{"pool name", func(c *Config) { c.Pools[1].Name = ""; c.Pools[2].Name = "general" }, []string{
			`pools[1].name: must not be empty`, `pools[2].name: duplicate pool "general"`}},
		{"balance", func(c *Config) { c.Pools[0].Balance = "random" }, []string{`pools[0].balance: "random": must be leastconn or roundrobin`}},
		{"health", func(c *Config) {
			c.Pools[0].Health = HealthConfig{Check: "ping", Interval: -1, Timeout: -time.Second, Rise: -1, Fall: -2}
		}, []string{
			`pools[0].health.check: "ping": must be rdp, tcp or none`, `pools[0].health.interval: -1ns: must be > 0`,
			`pools[0].health.timeout: -1s: must be > 0`, `pools[0].health.rise: -1: must be >= 1`,
			`pools[0].health.fall: -2: must be >= 1`}},
		{"no servers", func(c *Config) { c.Pools[2].Servers = nil }, []string{`pools[2].servers: must have at least one server`}},
		{"server name", func(c *Config) { c.Pools[0].Servers[1].Name = "ts01"; c.Pools[1].Servers[0].Name = "" }, []string{
			`pools[0].servers[1].name: duplicate server "ts01"`, `pools[1].servers[0].name: must not be empty`}},
		{"duplicate of an invalid server", func(c *Config) { c.Pools[0].Servers[0].Address = "bad"; c.Pools[0].Servers[1].Name = "ts01" }, []string{
			`pools[0].servers[0].address: "bad": missing port in address`, `pools[0].servers[1].name: duplicate server "ts01"`}},
		{"server across pools", func(c *Config) { c.Pools[1].Servers[0].Name = "ts01" }, []string{
			`pools[1].servers[0].name: duplicate server "ts01"`}},
		{"addresses", func(c *Config) {
			c.Pools[0].Servers[0].Address = "10.0.0.1"
			c.Pools[0].Servers[1].Address = "10.0.0.2:0"
			c.Pools[1].Servers[0].Address = ":3389"
			c.Pools[2].Servers[0].Address = "ts.example:rdp"
		}, []string{
			`pools[0].servers[0].address: "10.0.0.1": missing port in address`,
			`pools[0].servers[1].address: "10.0.0.2:0": port "0": must be 1..65535`,
			`pools[1].servers[0].address: ":3389": missing host`,
			`pools[2].servers[0].address: "ts.example:rdp": port "rdp": must be 1..65535`}},
		{"duplicate address", func(c *Config) { c.Pools[1].Servers[0].Address = "10.0.0.1:3389" }, []string{
			`pools[1].servers[0].address: "10.0.0.1:3389": duplicate address (server "ts01")`}},
		{"duplicate address in another spelling", func(c *Config) {
			c.Pools[1].Servers[0].Address = "[::ffff:10.0.0.1]:3389"
			c.Pools[2].Servers[0].Address = "10.0.0.2:03389"
		}, []string{
			`pools[1].servers[0].address: "[::ffff:10.0.0.1]:3389": duplicate address (server "ts01")`,
			`pools[2].servers[0].address: "10.0.0.2:03389": duplicate address (server "ts02")`}},
		{"host names", func(c *Config) {
			c.Pools[0].Servers[0].Address = "TS01.corp.example.:3389"
			c.Pools[0].Servers[1].Address = "ts01.CORP.example:3389"
			c.Pools[1].Servers[0].Address = "ts 03:3389"
			c.Pools[2].Servers[0].Address = "-ts04.example:3389"
		}, []string{
			`pools[0].servers[1].address: "ts01.CORP.example:3389": duplicate address (server "ts01")`,
			`pools[1].servers[0].address: "ts 03:3389": host "ts 03": not an IP address or host name`,
			`pools[2].servers[0].address: "-ts04.example:3389": host "-ts04.example": not an IP address or host name`}},
		{"weight and max_sessions", func(c *Config) {
			c.Pools[0].Servers[1].Weight = -1
			c.Pools[1].Servers[0].Weight = 257
			c.Pools[2].Servers[0].MaxSessions = -5
		}, []string{
			`pools[0].servers[1].weight: -1: must be 0..256`, `pools[1].servers[0].weight: 257: must be 0..256`,
			`pools[2].servers[0].max_sessions: -5: must be >= 0`}},
		{"rules", func(c *Config) {
			c.Rules = []RuleConfig{
				{Pool: "sales", Logins: []string{"alice"}},
				{Pool: "general"},
				{Pool: "general", Networks: []string{"10.0.0.0/8", "10.0.0.0/33", "not-an-ip"}},
				{Pool: "x", Groups: []string{"g"}},
				{Logins: []string{"bob", " "}},
				{Name: "default", Pool: "sales", Collection: "c"},
				{Name: "r", Pool: "sales", Collection: "c"},
				{Name: "r", Pool: "sales", Groups: []string{""}},
			}
		}, []string{
			`rules[1]: no criteria`,
			`rules[2].networks[1]: "10.0.0.0/33": netip.ParsePrefix("10.0.0.0/33"): prefix length out of range`,
			`rules[2].networks[2]: "not-an-ip": ParseAddr("not-an-ip"): unable to parse IP`,
			`rules[3].pool: unknown pool "x"`,
			`rules[4].pool: required`, `rules[4].logins[1]: " ": no user name`,
			`rules[5].name: "default": reserved name`,
			`rules[7].name: duplicate rule "r"`, `rules[7].groups[0]: empty group name`}},
		{"time", func(c *Config) {
			c.Rules = []RuleConfig{{Pool: "sales", Time: &TimeWindowConfig{
				Days: []string{"mon-fri", "funday", "sat-xyz"}, From: "25:00", To: "8", Location: "Mars/Olympus"}}}
		}, []string{
			`rules[0].time.days[1]: "funday": must be mon..sun or a range such as mon-fri`,
			`rules[0].time.days[2]: "sat-xyz": must be mon..sun or a range such as mon-fri`,
			`rules[0].time.from: "25:00": must be HH:MM, 00:00 to 23:59`,
			`rules[0].time.to: "8": must be HH:MM, 00:00 to 24:00`,
			`rules[0].time.location: "Mars/Olympus": unknown time zone Mars/Olympus`}},
		{"logins_file missing", func(c *Config) {
			c.Rules = []RuleConfig{{Pool: "sales", LoginsFile: "/nonexistent/logins"}}
		}, []string{`rules[0].logins_file: open /nonexistent/logins: file does not exist`}},
		{"static_groups", func(c *Config) {
			c.StaticGroups = map[string][]string{"b": {"x", ""}, "a": {`CORP\`}}
		}, []string{`static_groups.a[0]: "CORP\\": no user name`, `static_groups.b[1]: "": no user name`}},
		{"several at once", func(c *Config) {
			c.NoCookie = "maybe"
			c.DefaultPool = "nowhere"
			c.Pools[0].Balance = "random"
			c.Pools[0].Servers[0].Address = "10.0.0.1"
			c.Rules = []RuleConfig{{Pool: "general"}}
		}, []string{
			`no_cookie: "maybe": must be default, reject or learned`,
			`pools[0].balance: "random": must be leastconn or roundrobin`,
			`pools[0].servers[0].address: "10.0.0.1": missing port in address`,
			`default_pool: unknown pool "nowhere"`,
			`rules[0]: no criteria`}},
	}
	readFile := func(name string) ([]byte, error) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.modify(&cfg)
			tb, err := Compile(cfg, Options{ReadFile: readFile})
			if err == nil {
				t.Fatalf("Compile accepted the config: %+v", tb)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestCompileLoginsFileError(t *testing.T) {
	cfg := testConfig()
	cfg.Rules = []RuleConfig{{Pool: "sales", LoginsFile: "/nonexistent/x"}}
	_, err := Compile(cfg, Options{}) // the real os.ReadFile
	if err == nil || !errors.Is(err, fs.ErrNotExist) ||
		err.Error() != "rules[0].logins_file: open /nonexistent/x: no such file or directory" {
		t.Fatalf("err = %v", err)
	}
}

func TestCompileDefaults(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].Health = HealthConfig{}
	cfg.Pools[0].Servers[0].Weight = 0
	cfg.Pools[0].Servers[1].Weight = 7
	before := cfg.Pools[0]
	tb := mustCompile(t, cfg)
	p := tb.Pool("general")
	want := HealthConfig{Check: CheckRDP, Interval: 3 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3}
	if p.Health != want || p.Balance != BalanceLeastConn {
		t.Errorf("pool defaults: %+v %q", p.Health, p.Balance)
	}
	if w := tb.Server("ts01").Weight; w != 1 {
		t.Errorf("default weight = %d", w)
	}
	if w := tb.Server("ts02").Weight; w != 7 {
		t.Errorf("weight = %d", w)
	}
	if cfg.Pools[0].Health != before.Health || cfg.Pools[0].Servers[0].Weight != 0 {
		t.Errorf("Compile modified cfg")
	}
	if tb.DefaultPool().Name != "general" || len(tb.Servers()) != 4 || len(tb.Pools()) != 3 || tb.Pool("x") != nil {
		t.Errorf("table accessors")
	}
	d := DefaultConfig()
	if d.NoCookie != "default" || d.Ambiguous != "default" || d.Retries != 2 ||
		d.Passive != (PassiveConfig{MaxFails: 1, FailTimeout: 10 * time.Second}) {
		t.Errorf("DefaultConfig = %+v", d)
	}
}

func TestCompileLoginsFile(t *testing.T) {
	files := map[string]string{
		"/etc/sales": "# sales people\n\nCORP\\Alice\r\n  bob@corp.example  \n# carol\n",
	}
	cfg := testConfig()
	cfg.Rules = []RuleConfig{{Name: "sales", Pool: "sales", LoginsFile: "/etc/sales", Logins: []string{"dave"}}}
	tb, err := Compile(cfg, Options{ReadFile: func(name string) ([]byte, error) { return []byte(files[name]), nil }})
	if err != nil {
		t.Fatal(err)
	}
	for login, pool := range map[string]string{"alice": "sales", `CORP\bob`: "sales", "dave": "sales", "carol": "general"} {
		if d := tb.Decide(loginReq(login)); d.Pool != pool {
			t.Errorf("%s -> %s, want %s (%s)", login, d.Pool, pool, d.Why)
		}
	}
}

func TestParseNetwork(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.1.2.3", "10.1.2.3/32"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{" 192.168.0.0/16 ", "192.168.0.0/16"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := parseNetwork(tc.in)
			if err != nil || p.String() != tc.want {
				t.Errorf("parseNetwork(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
			}
		})
	}
}

func TestTimeWindow(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	at := func(day, hhmm string) time.Time { // a day in the week of Mon 2025-01-13, UTC
		d, _ := parseWeekday(day)
		tm, _ := time.Parse("15:04", hhmm)
		return time.Date(2025, 1, 12+int(d), tm.Hour(), tm.Minute(), 0, 0, time.UTC)
	}
	tests := []struct {
		name string
		w    TimeWindowConfig
		t    time.Time
		want bool
	}{
		{"weekday inside", TimeWindowConfig{Days: []string{"mon-fri"}, From: "08:00", To: "18:00"}, at("wed", "12:00"), true},
		{"from inclusive", TimeWindowConfig{From: "08:00", To: "18:00"}, at("wed", "08:00"), true},
		{"to exclusive", TimeWindowConfig{From: "08:00", To: "18:00"}, at("wed", "18:00"), false},
		{"weekend outside", TimeWindowConfig{Days: []string{"mon-fri"}, From: "08:00", To: "18:00"}, at("sat", "12:00"), false},
		{"day list", TimeWindowConfig{Days: []string{"Mon", "sat"}}, at("sat", "23:59"), true},
		{"wrapping day range", TimeWindowConfig{Days: []string{"fri-mon"}}, at("sun", "03:00"), true},
		{"wrapping day range outside", TimeWindowConfig{Days: []string{"fri-mon"}}, at("tue", "03:00"), false},
		{"midnight evening", TimeWindowConfig{Days: []string{"fri"}, From: "22:00", To: "06:00"}, at("fri", "23:00"), true},
		{"midnight morning after", TimeWindowConfig{Days: []string{"fri"}, From: "22:00", To: "06:00"}, at("sat", "05:59"), true},
		{"midnight morning of start day", TimeWindowConfig{Days: []string{"fri"}, From: "22:00", To: "06:00"}, at("fri", "05:00"), false},
		{"midnight gap", TimeWindowConfig{From: "22:00", To: "06:00"}, at("wed", "12:00"), false},
		{"sunday night into monday", TimeWindowConfig{Days: []string{"sun"}, From: "22:00", To: "02:00"}, at("mon", "01:00"), true},
		{"until 24:00", TimeWindowConfig{From: "20:00", To: "24:00"}, at("wed", "23:59"), true},
		{"whole day", TimeWindowConfig{From: "00:00", To: "24:00"}, at("wed", "00:00"), true},
		{"location", TimeWindowConfig{From: "08:00", To: "09:00", Location: "America/New_York"}, time.Date(2025, 1, 15, 8, 30, 0, 0, ny), true},
		{"location utc outside", TimeWindowConfig{From: "08:00", To: "09:00", Location: "America/New_York"}, at("wed", "08:30"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := compileWindow(&tc.w, "time", func(key, format string, args ...any) { t.Fatalf(key+": "+format, args...) })
			if got := w.contains(tc.t); got != tc.want {
				t.Errorf("contains(%v) = %v, want %v", tc.t, got, tc.want)
			}
		})
	}
}

func TestCheckAddress(t *testing.T) {
	tests := []struct {
		in        string
		addrPort  string // "" for a host name
		canonical string
	}{
		{"10.0.0.1:3389", "10.0.0.1:3389", "10.0.0.1:3389"},
		{"[2001:db8::1]:3389", "[2001:db8::1]:3389", "[2001:db8::1]:3389"},
		{"[::ffff:10.0.0.1]:3389", "10.0.0.1:3389", "10.0.0.1:3389"},
		{"[fe80::1%eth0]:3389", "[fe80::1%eth0]:3389", "[fe80::1%eth0]:3389"},
		{"ts01:3389", "", "ts01:3389"},
		{"TS_01.Corp.Example.:03389", "", "ts_01.corp.example:3389"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			ap, canon, err := checkAddress(tc.in)
			got := ""
			if ap.IsValid() {
				got = ap.String()
			}
			if err != nil || got != tc.addrPort || canon != tc.canonical {
				t.Errorf("checkAddress(%q) = %q, %q, %v; want %q, %q", tc.in, got, canon, err, tc.addrPort, tc.canonical)
			}
		})
	}
	for _, bad := range []string{"a..b:1", strings.Repeat("a", 64) + ".example:1", "ts-:1", "t\u00e9:1", "ts/1:1"} {
		if _, _, err := checkAddress(bad); err == nil {
			t.Errorf("checkAddress(%q) accepted", bad)
		}
	}
}
