package appliance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/directory"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

const directoryConfig = `
listen: 127.0.0.1:0
inspect_timeout: 500ms
connect_timeout: 1s
state_dir: "{{state_dir}}"
default_pool: general
pools:
  - name: general
    health: {check: none}
    servers:
      - {name: ts01, address: "{{ts01}}"}
  - name: accounting
    health: {check: none}
    servers:
      - {name: ts03, address: "{{ts03}}"}
rules:
  - {name: acct, pool: accounting, groups: [Accounting]}
directory:
  urls: ["{{url}}"]
  bind_dn: 'CORP\svc-rdpbroker'
  bind_password_file: "{{state_dir}}/ldap.secret"
  base_dn: DC=corp,DC=example,DC=test
  interval: 1h
  dial_timeout: 500ms
  groups:
    Accounting: CN=Accounting,OU=Groups,DC=corp,DC=example,DC=test
`

// TestDirectorySnapshotRoutesWhileADDown: a broker started while every
// domain controller is unreachable routes by the persisted snapshot of the
// last good sync, in every name form, from its first connection.
func TestDirectorySnapshotRoutesWhileADDown(t *testing.T) {
	servers := farm(t, "ts01", "ts03")
	path := writeConfig(t, directoryConfig, servers, "{{url}}", "ldaps://"+rdptest.FreeAddr(t))
	state := filepath.Dir(path)
	if err := os.WriteFile(filepath.Join(state, "ldap.secret"), []byte("s3cret-never-logged\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	snap := &directory.Snapshot{
		Taken: time.Now().Add(-time.Hour), NetBIOS: "corp", DNSDomain: "corp.example.test",
		Groups: map[string]directory.GroupInfo{"accounting": {DN: "CN=Accounting,OU=Groups,DC=corp,DC=example,DC=test", Members: 2}},
		Users: []directory.User{
			{SAM: "carol", UPN: "carol@corp.example.test", Groups: []string{"accounting"}},
			{SAM: "dave"},
			{SAM: "ivan", UPN: "ivan.petrov@example.com", Groups: []string{"accounting"}},
		},
	}
	if err := directory.SaveSnapshot(filepath.Join(state, directory.SnapshotFile), snap); err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, path)
	for _, tc := range []struct{ cookie, want string }{
		{`CORP\carol`, "ts03"},
		{"ivan.petrov@example.com", "ts03"},
		{"carol@corp.example.test", "ts03"},
		{"dave", "ts01"},
		{"unknown", "ts01"},
	} {
		c, _, err := rdptest.Dial(b.addr, tc.cookie, 3*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", tc.cookie, err)
		}
		c.Close()
		if got := whoSaw(servers, tc.cookie); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s routed to %v, want %s", tc.cookie, got, tc.want)
		}
	}
	rdptest.Eventually(t, 5*time.Second, "failed sync recorded", func() bool { return b.Syncer().Status().Failures >= 1 })
	st := b.Syncer().Status()
	if !st.Stale || st.Source != "snapshot" || st.Errors[directory.KindConnect] == 0 || st.Users != 3 {
		t.Errorf("status = %+v, want stale snapshot with a connect error and 3 users", st)
	}
	if strings.Contains(b.log.String(), "s3cret") {
		t.Errorf("the bind password reached the log")
	}
}

func TestDirectoryConfigErrors(t *testing.T) {
	servers := farm(t, "ts01", "ts03")
	tests := []struct {
		name, from, to, want string
	}{
		{"rule group not synced", "groups: [Accounting]", "groups: [Payroll]", `rules[0].groups: "Payroll" is not in directory.groups`},
		{"no password file", `  bind_password_file: "{{state_dir}}/ldap.secret"` + "\n", "", "directory.bind_password_file: required"},
		{"bad scheme", "urls: [\"{{url}}\"]", "urls: [http://dc1]", "directory.urls[0]"},
		{"bad method", "interval: 1h", "interval: 1h\n  method: magic", "directory.method"},
		{"static groups too", "directory:", "static_groups: {Accounting: [carol]}\ndirectory:", "static_groups: not used"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := strings.Replace(directoryConfig, tc.from, tc.to, 1)
			if tmpl == directoryConfig {
				t.Fatalf("replacement %q not found", tc.from)
			}
			_, err := LoadConfig(writeConfig(t, tmpl, servers, "{{url}}", "ldaps://127.0.0.1:1"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadConfig error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestDirectoryReload: a reload that adds a directory starts its sync (and
// publishes its persisted snapshot at once); one that removes it returns
// routing to static_groups. No restart, the listener stays.
func TestDirectoryReload(t *testing.T) {
	servers := farm(t, "ts01", "ts03")
	static := strings.Replace(directoryConfig, "directory:", "static_groups: {Accounting: [dave]}\nxdirectory:", 1)
	static = static[:strings.Index(static, "xdirectory:")]
	path := writeConfig(t, static, servers)
	state := filepath.Dir(path)
	os.WriteFile(filepath.Join(state, "ldap.secret"), []byte("pw"), 0o600)
	snap := &directory.Snapshot{NetBIOS: "corp", DNSDomain: "corp.example.test",
		Groups: map[string]directory.GroupInfo{"accounting": {DN: "CN=Accounting", Members: 1}},
		Users:  []directory.User{{SAM: "carol", Groups: []string{"accounting"}}, {SAM: "dave"}}}
	if err := directory.SaveSnapshot(filepath.Join(state, directory.SnapshotFile), snap); err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, path)
	// routeTo dials with cookie (each cookie used once) and returns the
	// server that received it.
	routeTo := func(cookie string) string {
		t.Helper()
		c, _, err := rdptest.Dial(b.addr, cookie, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := whoSaw(servers, cookie); len(got) == 1 {
			return got[0]
		}
		return ""
	}
	if got := routeTo("dave"); got != "ts03" || b.Syncer() != nil {
		t.Fatalf("static: dave -> %s (syncer %v), want ts03 and no syncer", got, b.Syncer())
	}
	withDir := writeConfig(t, directoryConfig, servers, "{{url}}", "ldaps://"+rdptest.FreeAddr(t))
	cfg, err := LoadConfig(withDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = state
	if err := b.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if b.Syncer() == nil {
		t.Fatal("reload with a directory started no sync")
	}
	if got := routeTo("carol"); got != "ts03" {
		t.Errorf("with the directory (snapshot): carol -> %s, want ts03", got)
	}
	if got := routeTo("dave2"); got != "ts01" {
		t.Errorf("dave2 -> %s, want ts01", got)
	}
	cfg2, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	if b.Syncer() != nil {
		t.Error("reload without a directory left the sync running")
	}
	if got := routeTo(`CORP\carol`); got != "ts01" {
		t.Errorf("back to static groups: carol -> %s, want ts01", got)
	}
}

// TestConfigDottedNames: AD group names and logins may contain dots; they
// are map keys in the YAML and must stay whole (not nested keys).
func TestConfigDottedNames(t *testing.T) {
	servers := farm(t, "ts01", "ts02", "ts03", "ts04")
	tmpl := strings.NewReplacer("groups: [Accounting]", "groups: [RDS.Users]",
		"    Accounting: CN=Accounting", "    RDS.Users: CN=RDS.Users").Replace(directoryConfig)
	cfg, err := LoadConfig(writeConfig(t, tmpl, servers, "{{url}}", "ldaps://127.0.0.1:1"))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if got := cfg.Directory.Groups["rds.users"]; !strings.HasPrefix(got, "CN=RDS.Users,") {
		t.Errorf("directory.groups = %v, want rds.users -> CN=RDS.Users,...", cfg.Directory.Groups)
	}
	cfg, err = LoadConfig(writeConfig(t, routedConfig+"  First.Line: [jo.doe]\n", servers, "{{no_cookie}}", "default"))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if got := cfg.Routing.StaticGroups["first.line"]; len(got) != 1 || got[0] != "jo.doe" {
		t.Errorf("static_groups = %v", cfg.Routing.StaticGroups)
	}
}
