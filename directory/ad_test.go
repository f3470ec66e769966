package directory

// Integration tests against a real Samba AD DC (directory/adtest). They
// run when RDPBROKER_E2E_REAL=1 (make test), and then fail rather than
// skip if the DC cannot start.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/rdpbroker/rdpbroker/directory/adtest"
	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

const realEnv = "RDPBROKER_E2E_REAL"

// dc is the package's DC, started once by TestMain when realEnv is set.
var (
	dc    *adtest.Fixture
	dcErr error
)

func TestMain(m *testing.M) {
	code := func() int {
		if os.Getenv(realEnv) == "1" {
			dir, err := os.MkdirTemp("", "rdpbroker-ad-")
			if err != nil {
				dcErr = err
			} else {
				defer os.RemoveAll(dir)
				start := time.Now()
				dc, dcErr = adtest.Start(context.Background(), dir)
				if dcErr == nil {
					fmt.Fprintf(os.Stderr, "samba AD DC on %s ready after %v\n", dc.IP, time.Since(start).Round(time.Millisecond))
					defer dc.Stop()
				}
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// requireDC skips without realEnv and fails if the DC did not start.
func requireDC(t *testing.T) *adtest.Fixture {
	t.Helper()
	if os.Getenv(realEnv) != "1" {
		t.Skipf("real Active Directory test: set %s=1 (make test)", realEnv)
	}
	if dcErr != nil {
		t.Fatalf("samba AD DC fixture: %v", dcErr)
	}
	if !dc.Up() {
		if err := dc.StartAgain(context.Background()); err != nil {
			t.Fatalf("restart the DC: %v", err)
		}
	}
	return dc
}

// adConfig is a valid Config for the fixture, over LDAPS, with the bind
// password in a file.
func adConfig(t *testing.T, f *adtest.Fixture) Config {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "ldap.secret")
	if err := os.WriteFile(pw, []byte(adtest.AdminPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.URLs = []string{f.LDAPS()}
	cfg.CAFile = f.CA
	cfg.BindDN = adtest.AdminDN
	cfg.BindPasswordFile = pw
	cfg.BaseDN = adtest.BaseDN
	cfg.Interval = time.Hour
	cfg.Groups = map[string]string{
		"Engineering": adtest.GroupDN("Engineering"), // by DN
		"SRE":         "SRE",                         // by name
		"Sales":       "Sales",
		"Support":     "Support",
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// counting wraps a searcher and counts requests per attribute pattern.
type counting struct {
	s            searcher
	ranged, more int // requests for member;range=..., paged requests with a cookie
	lookups      int // the walk's searches for a batch of member DNs
}

func (c *counting) Search(req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	for _, a := range req.Attributes {
		if strings.HasPrefix(a, "member;range=") {
			c.ranged++
		}
	}
	if strings.HasPrefix(req.Filter, "(|(distinguishedName=") {
		c.lookups++
	}
	if pc, ok := ldap.FindControl(req.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging); ok && len(pc.Cookie) > 0 {
		c.more++
	}
	return c.s.Search(req)
}

func fetchCounting(t *testing.T, cfg Config) (*Snapshot, *counting) {
	t.Helper()
	c, _, err := connect(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	cs := &counting{s: c}
	snap, _, err := fetchFrom(cs, cfg, nil, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return snap, cs
}

func membersOf(s *Snapshot, group string) []string {
	var out []string
	for _, u := range s.members(group) {
		out = append(out, u.SAM)
	}
	return out
}

func TestADMembership(t *testing.T) {
	f := requireDC(t)
	for _, method := range []string{MethodChain, MethodWalk, MethodAuto} {
		t.Run(method, func(t *testing.T) {
			cfg := adConfig(t, f)
			cfg.Method = method
			snap, _ := fetchCounting(t, cfg)
			for group, want := range map[string][]string{
				"Engineering": {"alice", "bob", "carol", "ivan"}, // nested: Platform (bob) <- SRE (carol)
				"SRE":         {"carol"},
				"Sales":       {"dave", "erin"},
				"Support":     {"erin", "frank"}, // grace is disabled
			} {
				if got := membersOf(snap, group); !slices.Equal(got, want) {
					t.Errorf("%s members = %v, want %v", group, got, want)
				}
				if n := snap.Groups[group].Members; n != len(want) {
					t.Errorf("%s member count = %d, want %d", group, n, len(want))
				}
			}
			if snap.NetBIOS != "corp" || snap.DNSDomain != adtest.DNSDomain {
				t.Errorf("domain names = %q %q", snap.NetBIOS, snap.DNSDomain)
			}
			idx := NewIndex(snap)
			for _, login := range []string{"alice", "CORP\\alice", "Alice@corp.example.test", "corp.example.test\\ALICE"} {
				if ids := idx.Resolve(rdp.NormalizeLogin(login)); len(ids) != 1 || ids[0].Key != "alice" ||
					!slices.Contains(ids[0].Groups, "Engineering") {
					t.Errorf("Resolve(%q) = %v, want alice in Engineering", login, ids)
				}
			}
			// ivan's explicit UPN differs from his sAMAccountName.
			if ids := idx.Resolve(rdp.NormalizeLogin("ivan.petrov@example.com")); len(ids) != 1 || ids[0].Key != "ivan" {
				t.Errorf("explicit UPN resolves to %v, want ivan", ids)
			}
			// index_all_users: judy is in no configured group but known.
			if ids := idx.Resolve(rdp.NormalizeLogin("CORP\\judy")); len(ids) != 1 || len(ids[0].Groups) != 0 {
				t.Errorf("judy = %v, want known without groups", ids)
			}
			if ids := idx.Resolve(rdp.NormalizeLogin("CORP\\grace")); len(ids) != 0 {
				t.Errorf("disabled grace = %v, want unknown", ids)
			}
		})
	}
}

// With index_all_users the walk takes the members it already knows from
// the all-users search and looks up only the rest (nested groups, disabled
// accounts): the same memberships with fewer searches.
func TestADWalkUsesKnownUsers(t *testing.T) {
	f := requireDC(t)
	cfg := adConfig(t, f)
	cfg.Method = MethodWalk
	cfg.IndexAllUsers = false
	plain, plainCount := fetchCounting(t, cfg)
	cfg.IndexAllUsers = true
	indexed, indexedCount := fetchCounting(t, cfg)
	for group := range cfg.Groups {
		if a, b := membersOf(plain, group), membersOf(indexed, group); !slices.Equal(a, b) {
			t.Errorf("%s: %v without index_all_users, %v with", group, a, b)
		}
	}
	if indexedCount.lookups >= plainCount.lookups {
		t.Errorf("DN lookups: %d with index_all_users, %d without; want fewer with", indexedCount.lookups, plainCount.lookups)
	}
	t.Logf("DN lookup searches: %d without index_all_users, %d with", plainCount.lookups, indexedCount.lookups)
}

// TestADBigGroup: BigGroup has 1,601 members, beyond AD's MaxValRange.
// Samba does not range by itself, so a small range_window forces the
// multi-round member;range= path, and a small page_size the paging path.
func TestADBigGroup(t *testing.T) {
	f := requireDC(t)
	tests := []struct {
		name       string
		method     string
		window     int
		page       int
		wantRanged int // at least this many member;range= requests
		wantPages  int // at least this many follow-up pages
	}{
		{name: "walk with range window 500", method: MethodWalk, window: 500, page: 1000, wantRanged: 4},
		{name: "chain with page size 100", method: MethodChain, page: 100, wantPages: 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := adConfig(t, f)
			cfg.Groups = map[string]string{"Big": "BigGroup"}
			cfg.Method, cfg.RangeWindow, cfg.PageSize = tc.method, tc.window, tc.page
			cfg.IndexAllUsers = false
			// The bulk users have no password: AD creates them disabled.
			cfg.IncludeDisabled = true
			snap, cs := fetchCounting(t, cfg)
			if n := snap.Groups["Big"].Members; n != adtest.BigN+1 {
				t.Errorf("BigGroup members = %d, want %d", n, adtest.BigN+1)
			}
			if got := membersOf(snap, "Big"); !slices.Contains(got, "bulk1600") || !slices.Contains(got, "judy") {
				t.Errorf("BigGroup lacks bulk1600 or judy")
			}
			if cs.ranged < tc.wantRanged {
				t.Errorf("member;range requests = %d, want >= %d", cs.ranged, tc.wantRanged)
			}
			if cs.more < tc.wantPages {
				t.Errorf("follow-up pages = %d, want >= %d", cs.more, tc.wantPages)
			}
		})
	}
}

func TestADTransport(t *testing.T) {
	f := requireDC(t)
	dead := "ldaps://" + rdptest.FreeAddr(t) // nothing listens there
	tests := []struct {
		name     string
		edit     func(*Config)
		wantKind string // "" = success
		wantURL  string
	}{
		{name: "ldaps with CA", edit: func(c *Config) {}, wantURL: f.LDAPS()},
		{name: "starttls with CA", edit: func(c *Config) { c.URLs = []string{f.LDAP()} }, wantURL: f.LDAP()},
		{name: "ldaps without CA", edit: func(c *Config) { c.CAFile = "" }, wantKind: KindTLS},
		{name: "starttls without CA", edit: func(c *Config) { c.URLs, c.CAFile = []string{f.LDAP()}, "" }, wantKind: KindTLS},
		{name: "first DC down", edit: func(c *Config) { c.URLs = []string{dead, f.LDAPS()} }, wantURL: f.LDAPS()},
		{name: "all DCs down", edit: func(c *Config) { c.URLs = []string{dead} }, wantKind: KindConnect},
		{name: "bad password", edit: func(c *Config) {
			os.WriteFile(c.BindPasswordFile, []byte("wrong"), 0o600)
			c.URLs = []string{f.LDAPS(), f.LDAP()}
		}, wantKind: KindBind},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := adConfig(t, f)
			cfg.DialTimeout = 2 * time.Second
			tc.edit(&cfg)
			c, url, err := connect(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if tc.wantKind != "" {
				if err == nil {
					c.Close()
					t.Fatalf("connected to %s, want a %s error", url, tc.wantKind)
				}
				if k := errorKind(err); k != tc.wantKind {
					t.Fatalf("error kind %q, want %q: %v", k, tc.wantKind, err)
				}
				if strings.Contains(err.Error(), adtest.AdminPass) {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer c.Close()
			if url != tc.wantURL {
				t.Errorf("used %s, want %s", url, tc.wantURL)
			}
		})
	}
}
