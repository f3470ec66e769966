package directory_test

// The whole broker against the real AD DC: a client's cookie is routed by
// its AD groups, and a group change in AD moves the user's next connection
// to the other pool after the next scheduled sync, with no restart or
// reload.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/directory"
	"github.com/rdpbroker/rdpbroker/directory/adtest"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

func TestBrokerRoutesByADGroups(t *testing.T) {
	f := directory.RequireDC(t)
	state := t.TempDir()
	pw := filepath.Join(state, "ldap.secret")
	os.WriteFile(pw, []byte(adtest.AdminPass), 0o600)
	servers := map[string]*rdptest.Server{}
	for _, n := range []string{"ts-general", "ts-eng", "ts-support"} {
		s, err := rdptest.Start(rdptest.Config{Name: n})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		servers[n] = s
	}
	yaml := fmt.Sprintf(`
listen: 127.0.0.1:0
state_dir: %q
default_pool: general
pools:
  - {name: general, health: {check: none}, servers: [{name: ts-general, address: %q}]}
  - {name: eng, health: {check: none}, servers: [{name: ts-eng, address: %q}]}
  - {name: support, health: {check: none}, servers: [{name: ts-support, address: %q}]}
rules:
  - {name: engineers, pool: eng, groups: [Engineering]}
  - {name: support, pool: support, groups: [Support]}
directory:
  urls: [%q, %q]
  ca_file: %q
  bind_dn: 'CORP\Administrator'
  bind_password_file: %q
  base_dn: %q
  interval: 1s
  jitter: 100ms
  groups:
    Engineering: Engineering
    Support: %q
`, state, servers["ts-general"].Addr(), servers["ts-eng"].Addr(), servers["ts-support"].Addr(),
		"ldaps://127.0.0.1:1", f.LDAPS(), f.CA, pw, adtest.BaseDN, adtest.GroupDN("Support"))
	path := filepath.Join(state, "rdpbroker.yaml")
	os.WriteFile(path, []byte(yaml), 0o600)
	cfg, err := appliance.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := appliance.New(cfg, appliance.Options{Listener: ln, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := ln.Addr().String()

	// route dials with cookie and returns the server that saw it.
	seen := func(s *rdptest.Server, cookie string) int {
		n := 0
		for _, r := range s.Seen() {
			if r.Cookie == cookie {
				n++
			}
		}
		return n
	}
	route := func(cookie string) string {
		t.Helper()
		before := map[string]int{}
		for n, s := range servers {
			before[n] = seen(s, cookie)
		}
		c, _, err := rdptest.Dial(addr, cookie, 3*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", cookie, err)
		}
		c.Close()
		for n, s := range servers {
			if seen(s, cookie) > before[n] {
				return n
			}
		}
		return ""
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s (directory status %+v)", what, b.Syncer().Status())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitUntil("first sync", func() bool { return b.Syncer().Status().Source == "ldap" })
	for cookie, want := range map[string]string{
		`CORP\carol`:              "ts-eng", // Engineering <- Platform <- SRE <- carol
		"ivan.petrov@example.com": "ts-eng",
		"frank":                   "ts-support",
		`CORP\grace`:              "ts-general", // disabled: not a member
		"heidi":                   "ts-general",
	} {
		if got := route(cookie); got != want {
			t.Errorf("%s routed to %s, want %s", cookie, got, want)
		}
	}
	if err := f.AddMember(adtest.GroupDN("Support"), adtest.UserDN("Heidi Klum")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.RemoveMember(adtest.GroupDN("Support"), adtest.UserDN("Heidi Klum")) })
	syncs := b.Syncer().Status().Syncs
	waitUntil("a sync after the change", func() bool { return b.Syncer().Status().Syncs >= syncs+2 })
	if got := route(`CORP\heidi`); got != "ts-support" {
		t.Errorf("heidi after being added to Support in AD: %s, want ts-support", got)
	}
	if st := b.Syncer().Status(); st.Stale || st.Server != f.LDAPS() {
		t.Errorf("status %+v: want fresh, from the second URL", st)
	}
}
