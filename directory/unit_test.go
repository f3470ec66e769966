package directory

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func validConfig() Config {
	c := DefaultConfig()
	c.URLs = []string{"ldaps://dc1.corp.example.test", "ldap://dc2.corp.example.test:389"}
	c.BindDN, c.BindPasswordFile, c.BaseDN = `CORP\svc`, "/etc/rdpbroker/ldap.secret", "DC=corp,DC=example,DC=test"
	c.Groups = map[string]string{"Accounting": "CN=Accounting,DC=corp,DC=example,DC=test", "Sales": "Sales"}
	return c
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"disabled", func(c *Config) { *c = DefaultConfig() }, ""},
		{"groups without urls", func(c *Config) { c.URLs = nil }, "urls: required"},
		{"bad scheme", func(c *Config) { c.URLs = []string{"http://dc1"} }, "urls[0]"},
		{"no host", func(c *Config) { c.URLs = []string{"ldaps://"} }, "no host"},
		{"no bind dn", func(c *Config) { c.BindDN = "" }, "bind_dn: required"},
		{"no password file", func(c *Config) { c.BindPasswordFile = "" }, "bind_password_file: required"},
		{"no base", func(c *Config) { c.BaseDN = "" }, "base_dn: required"},
		{"no groups", func(c *Config) { c.Groups = nil }, "groups: at least one"},
		{"empty group dn", func(c *Config) { c.Groups["X"] = " " }, "groups: empty"},
		{"method", func(c *Config) { c.Method = "magic" }, "method"},
		{"interval", func(c *Config) { c.Interval = 0 }, "interval"},
		{"timeouts", func(c *Config) { c.RequestTimeout = 0 }, "request_timeout"},
		{"page size", func(c *Config) { c.PageSize = 0 }, "page_size"},
		{"range window", func(c *Config) { c.RangeWindow = -1 }, "range_window"},
		{"shrink guard", func(c *Config) { c.ShrinkGuard = 1 }, "shrink_guard"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRangeStep(t *testing.T) {
	attr := func(name string, n int) []*ldap.EntryAttribute {
		vals := make([]string, n)
		for i := range vals {
			vals[i] = "CN=u" + strings.Repeat("x", i%3)
		}
		return []*ldap.EntryAttribute{{Name: "cn", Values: []string{"g"}}, {Name: name, Values: vals}}
	}
	tests := []struct {
		name     string
		attrs    []*ldap.EntryAttribute
		next     int
		done     bool
		wantErr  bool
		appended int
	}{
		{"plain member", attr("member", 3), 0, true, false, 3},
		{"first window", attr("member;range=0-1499", 1500), 1500, false, false, 1500},
		{"last window", attr("member;range=1500-*", 101), 0, true, false, 101},
		{"upper-case name", attr("Member;Range=0-4999", 5000), 5000, false, false, 5000},
		{"no member attribute", attr("cn2", 1), 0, true, false, 0},
		{"bad range", attr("member;range=0", 1), 0, false, true, 1},
		{"bad number", attr("member;range=0-x", 1), 0, false, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out []string
			next, done, err := rangeStep(tc.attrs, &out)
			if (err != nil) != tc.wantErr || next != tc.next || done != tc.done || len(out) != tc.appended {
				t.Errorf("rangeStep = %d %v %v (%d values), want %d %v err=%v (%d)", next, done, err, len(out),
					tc.next, tc.done, tc.wantErr, tc.appended)
			}
		})
	}
}

func FuzzRangeStep(f *testing.F) {
	for _, s := range []string{"member", "member;range=0-1499", "member;range=1500-*", "member;range=-", "member;range=9-99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		var out []string
		next, done, err := rangeStep([]*ldap.EntryAttribute{{Name: name, Values: []string{"x"}}}, &out)
		if err == nil && !done && next <= 0 {
			t.Fatalf("%q: no error, not done, next %d: the walk would not advance", name, next)
		}
	})
}

func TestSnapshotSaveLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, SnapshotFile)
	s := testSnapshot()
	s.Groups = map[string]GroupInfo{"Engineering": {DN: "CN=Engineering", Members: 3}}
	if err := SaveSnapshot(p, s); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSnapshot(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Users) != len(s.Users) || got.NetBIOS != "corp" || got.Groups["Engineering"].Members != 3 ||
		!slices.Equal(got.Users[0].Groups, s.Users[0].Groups) {
		t.Errorf("round trip differs: %+v", got)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
	if len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
	for name, data := range map[string]string{
		"torn":     `{"version":1,"snapshot":{"users":[{"sam":"a"`,
		"version":  `{"version":99,"snapshot":{}}`,
		"unsorted": `{"version":1,"snapshot":{"users":[{"sam":"b"},{"sam":"a"}]}}`,
		"upper":    `{"version":1,"snapshot":{"users":[{"sam":"A"}]}}`,
	} {
		bad := filepath.Join(dir, name)
		os.WriteFile(bad, []byte(data), 0o600)
		if _, err := LoadSnapshot(bad); err == nil {
			t.Errorf("%s snapshot loaded", name)
		}
	}
	if _, err := LoadSnapshot(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
	// A full disk or read-only directory: an error, the old file intact.
	if os.Geteuid() != 0 {
		os.Chmod(dir, 0o500)
		defer os.Chmod(dir, 0o700)
		if err := SaveSnapshot(p, s); err == nil {
			t.Error("save into a read-only directory succeeded")
		}
		if _, err := LoadSnapshot(p); err != nil {
			t.Errorf("old snapshot damaged: %v", err)
		}
	}
}

func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		content string
		want    string
		kind    string
	}{
		"trailing newline": {"s3cret\n", "s3cret", ""},
		"crlf":             {"s3cret\r\n", "s3cret", ""},
		"inner spaces":     {" s3 cret ", " s3 cret ", ""},
		"empty":            {"\n", "", KindConfig},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
			os.WriteFile(p, []byte(tc.content), 0o600)
			pw, err := readPassword(p)
			if tc.kind != "" {
				if errorKind(err) != tc.kind || strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("err = %v, want kind %s without the secret", err, tc.kind)
				}
				return
			}
			if err != nil || pw != tc.want {
				t.Fatalf("readPassword = %q, %v; want %q", pw, err, tc.want)
			}
		})
	}
	if _, err := readPassword(filepath.Join(dir, "missing")); errorKind(err) != KindConfig {
		t.Errorf("missing file: kind %s", errorKind(err))
	}
}
