package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// restartRe matches a scriptlet line that runs `systemctl [try-]restart`.
var restartRe = regexp.MustCompile(`(?m)^\s*systemctl\b.*\b(try-)?restart\b`)

// testRPM: the package's metadata (scriptlets, %config(noreplace)), then
// rpm --root into a throwaway root: install without systemd, an upgrade over
// an edited configuration with a (fake) running systemd, erase.
func testRPM(t *testing.T, v1, v2 pkgs) {
	start := time.Now()
	scripts := run("rpm", "-qp", "--scripts", v1.rpm).must(t, time.Minute)
	for _, want := range []string{"useradd -r", "kill -s USR2 --kill-who=main", "[ -d /run/systemd/system ]"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm scriptlets lack %q:\n%s", want, scripts)
		}
	}
	if restartRe.MatchString(scripts) {
		t.Errorf("rpm scriptlets restart the service:\n%s", scripts)
	}
	flags := run("rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEMODES:perms}\n]", v1.rpm).must(t, time.Minute)
	if !strings.Contains(flags, "/etc/rdpbroker/rdpbroker.yaml cn root:rdpbroker -rw-r-----") {
		t.Errorf("rpm: rdpbroker.yaml is not %%config(noreplace) root:rdpbroker 0640:\n%s", flags)
	}

	r := newRoot(t)
	r.installFakeSystemctl(t)
	rpm := func(args ...string) string {
		return run("rpm", append([]string{"--root=" + r.dir, "--nodeps"}, args...)...).must(t, 5*time.Minute)
	}
	rpm("-ivh", v1.rpm)
	if calls := r.systemctlCalls(t); calls != "" {
		t.Errorf("install without systemd called systemctl:\n%s", calls)
	}
	checkInstalled(t, r, "usr/lib/systemd/system", v1.version)
	if got := run("rpm", "--root="+r.dir, "-qc", "rdpbroker").must(t, time.Minute); got != "/etc/rdpbroker/rdpbroker.yaml\n" {
		t.Errorf("rpm -qc: %q", got)
	}

	edited := strings.Replace(r.read(t, debConf), "level: info", "level: debug", 1) + "# edited by the admin\n"
	r.write(t, debConf, edited, 0o640)
	r.systemdRunning(t, true)
	out := rpm("-Uvh", v2.rpm)
	checkUpgradeCalls(t, r.systemctlCalls(t), out)
	if got := r.read(t, debConf); got != edited {
		t.Errorf("upgrade lost the admin's edit:\n%s", got)
	}
	want, err := os.ReadFile(v2.config)
	if err != nil {
		t.Fatal(err)
	}
	if !r.exists(debConf+".rpmnew") || r.read(t, debConf+".rpmnew") != string(want) {
		t.Errorf("upgrade: the new default is not in %s.rpmnew", debConf)
	}
	checkInstalled(t, r, "usr/lib/systemd/system", v2.version)

	rpm("-e", "rdpbroker")
	if calls := r.systemctlCalls(t); !strings.Contains(calls, "disable --now rdpbroker.service") {
		t.Errorf("erase did not stop and disable the service:\n%s", calls)
	}
	if r.exists("usr/bin/rdpbroker") || r.exists(filepath.Join("usr/lib/systemd/system/rdpbroker.service")) {
		t.Error("erase left the binary or the unit")
	}
	if !r.exists(debConf + ".rpmsave") {
		t.Error("erase: the edited configuration is not kept as .rpmsave")
	}
	t.Logf("rpm: install, upgrade, erase: %v", time.Since(start).Round(time.Second))
}
