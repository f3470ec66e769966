package affinity

import (
	"reflect"
	"strconv"
	"testing"
	"time"
)

func TestExpiryAndRefresh(t *testing.T) {
	fc := newFakeClock()
	tb := memTable(t, fc, "a") // expire 8h, refresh after 7.5min
	tb.Place("u1", "s1")
	steps := []struct {
		advance time.Duration
		action  func()
		want    string // "" = no entry
	}{
		{0, nil, "s1"},
		{7*time.Hour + 59*time.Minute, nil, "s1"},
		{2 * time.Minute, nil, ""}, // 8h01 after the only write: expired
		{0, func() { tb.Place("u1", "s2") }, "s2"},
		{7 * time.Hour, func() { tb.Place("u1", "s2") }, "s2"}, // refresh
		{7 * time.Hour, nil, "s2"},                             // alive 14h after first write
		{2 * time.Hour, nil, ""},
	}
	for i, st := range steps {
		fc.Add(st.advance)
		if st.action != nil {
			st.action()
		}
		got, ok := tb.Lookup("u1")
		if got != st.want || ok != (st.want != "") {
			t.Fatalf("step %d: Lookup = %q, %v; want %q", i, got, ok, st.want)
		}
	}
}

func TestPlaceRefreshWindow(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		server  string
		write   bool
	}{
		{"same server at once: no-op", 0, "s1", false},
		{"same server within window: no-op", 7 * time.Minute, "s1", false},
		{"same server after window: refreshed", 8 * time.Minute, "s1", true},
		{"other server at once: written", 0, "s2", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFakeClock()
			tb := memTable(t, fc, "a")
			tb.replicate.Store(true) // observe the outbox
			tb.Place("u1", "s1")
			before, _ := tb.Get("u1")
			tb.takeOutbox()
			fc.Add(tt.advance)
			tb.Place("u1", tt.server)
			after, _ := tb.Get("u1")
			out := tb.takeOutbox()
			if wrote := after.Version != before.Version; wrote != tt.write {
				t.Errorf("new version = %v, want %v", wrote, tt.write)
			}
			if (len(out) == 1) != tt.write {
				t.Errorf("queued for replication: %d changes, want write=%v", len(out), tt.write)
			}
		})
	}
}

func TestSetAlwaysWrites(t *testing.T) {
	fc := newFakeClock()
	tb := memTable(t, fc, "a")
	tb.Place("u1", "s1")
	before, _ := tb.Get("u1")
	tb.Set("u1", "s1")
	after, _ := tb.Get("u1")
	if after.Version.Compare(before.Version) <= 0 {
		t.Errorf("Set did not write a new version")
	}
}

func TestDeleteTombstone(t *testing.T) {
	fc := newFakeClock()
	tb := memTable(t, fc, "a")
	tb.Place("u1", "s1")
	tb.Delete("u1")
	if _, ok := tb.Lookup("u1"); ok {
		t.Fatal("Lookup after Delete found the entry")
	}
	e, ok := tb.Get("u1")
	if !ok || !e.Deleted {
		t.Fatalf("Get after Delete = %+v, %v; want a tombstone", e, ok)
	}
	if tb.Len() != 0 || tb.Stats().Tombstones != 1 {
		t.Errorf("Len = %d, tombstones = %d; want 0, 1", tb.Len(), tb.Stats().Tombstones)
	}
	// an older write arriving late does not resurrect it
	old := record{server: "s9", expires: fc.Now().UnixMilli() + 1000, ver: Version{e.Version.Wall - 1, 0, "b"}}
	tb.merge([]keyed{{"u1", old}})
	if _, ok := tb.Lookup("u1"); ok {
		t.Error("older write resurrected a deleted entry")
	}
	// kept until expiry, then pruned
	fc.Add(8*time.Hour + time.Second)
	if n := tb.Prune(); n != 1 {
		t.Errorf("Prune removed %d, want 1", n)
	}
	if _, ok := tb.Get("u1"); ok {
		t.Error("tombstone kept after its expiry")
	}
}

func TestList(t *testing.T) {
	fc := newFakeClock()
	tb := memTable(t, fc, "a")
	for i := range 6 {
		tb.Place("alice"+strconv.Itoa(i), "s"+strconv.Itoa(i%2))
	}
	tb.Place("bob", "s0")
	tb.Delete("alice5")
	keys := func(es []Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Key)
		}
		return out
	}
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all live", Filter{}, []string{"alice0", "alice1", "alice2", "alice3", "alice4", "bob"}},
		{"server", Filter{Server: "s0"}, []string{"alice0", "alice2", "alice4", "bob"}},
		{"prefix", Filter{LoginPrefix: "ali"}, []string{"alice0", "alice1", "alice2", "alice3", "alice4"}},
		{"prefix and server and limit", Filter{LoginPrefix: "alice", Server: "s1", Limit: 1}, []string{"alice1"}},
		{"tombstones", Filter{LoginPrefix: "alice5", Tombstones: true}, []string{"alice5"}},
		{"none", Filter{LoginPrefix: "carol"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keys(tb.List(tt.f)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("List(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}
}

func TestClearServer(t *testing.T) {
	fc := newFakeClock()
	tb := memTable(t, fc, "a")
	tb.replicate.Store(true)
	for i := range 10 {
		tb.Place("u"+strconv.Itoa(i), "s"+strconv.Itoa(i%3))
	}
	tb.takeOutbox()
	if n := tb.ClearServer("s0"); n != 4 {
		t.Errorf("ClearServer = %d, want 4", n)
	}
	if n := len(tb.takeOutbox()); n != 4 {
		t.Errorf("%d tombstones queued for replication, want 4", n)
	}
	if got := len(tb.List(Filter{Server: "s0"})); got != 0 {
		t.Errorf("%d entries left on s0", got)
	}
	if tb.Len() != 6 {
		t.Errorf("Len = %d, want 6", tb.Len())
	}
	if n := tb.ClearServer("s0"); n != 0 {
		t.Errorf("second ClearServer = %d, want 0", n)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"defaults", func(*Config) {}, ""},
		{"expire", func(c *Config) { c.Expire = 0 }, "expire: must be > 0"},
		{"flush", func(c *Config) { c.FlushInterval = -1 }, "flush_interval: must be > 0"},
		{"refresh", func(c *Config) { c.RefreshAfter = 9 * time.Hour }, "refresh_after: must be < expire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			if got := errString(err); got != tt.want {
				t.Errorf("Validate = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPeersConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*PeersConfig)
		want string
	}{
		{"single node", func(*PeersConfig) {}, ""},
		{"members without listen and secret", func(p *PeersConfig) { p.Members = []string{"10.0.0.2:7946"} },
			"listen: required when members is set\nsecret_file: required when replication is configured"},
		{"push pull", func(p *PeersConfig) { p.PushPullInterval = 0 }, "push_pull_interval: must be > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPeersConfig()
			tt.mod(&p)
			if got := errString(p.Validate()); got != tt.want {
				t.Errorf("Validate = %q, want %q", got, tt.want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParseSecret(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcd!!") // neither hex nor base64
	tests := []struct {
		name string
		in   string
		want int // key length; 0 = error
	}{
		{"base64 32", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", 32},
		{"hex 16", "000102030405060708090a0b0c0d0e0f\n", 16},
		{"raw 32", string(key), 32},
		{"raw 16 binary", "\x00\xff\x10 abc\x01\x02\x03\x04\x05\x06\x07\x08\x09", 16},
		{"too short", "abc", 0},
		{"base64 of 10 bytes", "MDEyMzQ1Njc4OQ==", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := parseSecret([]byte(tt.in))
			if tt.want == 0 {
				if err == nil {
					t.Errorf("parseSecret accepted %q", tt.in)
				}
				return
			}
			if err != nil || len(k) != tt.want {
				t.Errorf("parseSecret = %d bytes, %v; want %d bytes", len(k), err, tt.want)
			}
		})
	}
}
