package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const debConf = "etc/rdpbroker/rdpbroker.yaml"

// testDeb: install without systemd, the unit checked by systemd-analyze,
// an upgrade over an edited configuration with a (fake) running systemd,
// remove, purge.
func testDeb(t *testing.T, v1, v2 pkgs) {
	start := time.Now()
	r := newRoot(t)
	r.installFakeSystemctl(t)
	for _, p := range []pkgs{v1, v2} {
		data, err := os.ReadFile(p.deb)
		if err != nil {
			t.Fatal(err)
		}
		r.write(t, "tmp/"+filepath.Base(p.deb), string(data), 0o644)
	}
	dpkg := func(args ...string) string {
		return r.cmd(append([]string{"dpkg", "--force-confdef", "--force-confold"}, args...)...).must(t, 5*time.Minute)
	}

	// Install with no systemd running: the scripts must cope.
	dpkg("-i", "/tmp/"+filepath.Base(v1.deb))
	if calls := r.systemctlCalls(t); calls != "" {
		t.Errorf("install without systemd called systemctl:\n%s", calls)
	}
	checkInstalled(t, r, "lib/systemd/system", v1.version)
	conffiles := r.cmd("dpkg-query", "-W", "-f=${Conffiles}", "rdpbroker").must(t, time.Minute)
	if !strings.Contains(conffiles, "/etc/rdpbroker/rdpbroker.yaml") {
		t.Errorf("conffiles: %q lacks /etc/rdpbroker/rdpbroker.yaml", conffiles)
	}
	if !r.exists("etc/systemd/system/multi-user.target.wants/rdpbroker.service") {
		t.Error("postinst did not enable rdpbroker.service (multi-user.target.wants)")
	}
	checkUnit(t, r, "/lib/systemd/system/rdpbroker.service")

	// Upgrade over a locally edited configuration, systemd "running".
	edited := strings.Replace(r.read(t, debConf), "level: info", "level: debug", 1) + "# edited by the admin\n"
	r.write(t, debConf, edited, 0o640)
	r.cmd("chgrp", "rdpbroker", "/"+debConf).must(t, time.Minute)
	r.systemdRunning(t, true)
	out := dpkg("-i", "/tmp/"+filepath.Base(v2.deb))
	checkUpgradeCalls(t, r.systemctlCalls(t), out)
	if got := r.read(t, debConf); got != edited {
		t.Errorf("upgrade lost the admin's edit:\n%s", got)
	}
	want, err := os.ReadFile(v2.config)
	if err != nil {
		t.Fatal(err)
	}
	if !r.exists(debConf+".dpkg-dist") || r.read(t, debConf+".dpkg-dist") != string(want) {
		t.Errorf("upgrade: the new default is not in %s.dpkg-dist", debConf)
	}
	checkInstalled(t, r, "lib/systemd/system", v2.version)

	// Remove (systemd "running": the service is stopped), then purge.
	r.write(t, "var/lib/rdpbroker/affinity.db", "state", 0o600)
	r.write(t, "run/rdpbroker/admin.sock", "", 0o600)
	dpkg("-r", "rdpbroker")
	if calls := r.systemctlCalls(t); !strings.Contains(calls, "stop rdpbroker.service") {
		t.Errorf("remove did not stop the service:\n%s", calls)
	}
	if r.exists("usr/bin/rdpbroker") || !r.exists(debConf) {
		t.Error("remove: the binary must go, the conffile stay until purge")
	}
	r.systemdRunning(t, false)
	dpkg("-P", "rdpbroker")
	for _, p := range []string{"etc/rdpbroker", "var/lib/rdpbroker", "run/rdpbroker",
		"etc/systemd/system/multi-user.target.wants/rdpbroker.service", "lib/systemd/system/rdpbroker.service",
		"var/lib/systemd/deb-systemd-helper-enabled/rdpbroker.service.dsh-also"} {
		if r.exists(p) {
			t.Errorf("purge left %s", p)
		}
	}
	if calls := r.systemctlCalls(t); calls != "" {
		t.Errorf("purge without systemd called systemctl:\n%s", calls)
	}
	if _, ok := r.user(t, "rdpbroker"); !ok {
		t.Error("purge removed the rdpbroker user (Debian keeps system users; see README)")
	}
	t.Logf("deb: install, verify, upgrade, purge: %v", time.Since(start).Round(time.Second))
}

var exposureRe = regexp.MustCompile(`Overall exposure level for rdpbroker\.service: ([0-9.]+)`)

// checkUnit runs systemd-analyze verify and security inside the root.
func checkUnit(t *testing.T, r *root, unit string) {
	t.Helper()
	if out := r.cmd("systemd-analyze", "verify", "--man=no", unit).exec(t, 2*time.Minute); out.err != nil ||
		strings.Contains(out.out, "rdpbroker") {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unit, out.err, out.out)
	}
	out := r.cmd("systemd-analyze", "security", "--offline=true", "--no-pager", unit).exec(t, 2*time.Minute)
	m := exposureRe.FindStringSubmatch(out.out)
	if m == nil {
		t.Fatalf("systemd-analyze security: no exposure level (%v):\n%s", out.err, out.out)
	}
	exposure, err := strconv.ParseFloat(m[1], 64)
	if err != nil || exposure > 2.0 {
		t.Errorf("systemd-analyze security: exposure %s, want <= 2.0:\n%s", m[1], out.out)
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])
}
