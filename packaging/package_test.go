package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tools are what the package test needs besides Go: root, and the Debian
// packages scripts/install-package-deps.sh installs.
var tools = []string{"make", "debootstrap", "dpkg", "dpkg-deb", "rpm", "lintian", "rpmlint", "unshare", "tar", "cpio"}

// requirePackageTools skips the test unless it runs as root with every tool.
func requirePackageTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("package test: skipped with -short (builds packages, debootstraps a Debian root)")
	}
	if os.Geteuid() != 0 {
		t.Skip("package test: needs root (debootstrap, chroot, dpkg, rpm --root); run as root")
	}
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Skipf("package test: %s not installed: run scripts/install-package-deps.sh", strings.Join(missing, ", "))
	}
}

// pkgs are the .deb and .rpm of one version.
type pkgs struct {
	version, deb, rpm, config string
}

// buildPackages runs `make deb rpm` for version with config as the packaged
// default configuration.
func buildPackages(t *testing.T, out, version, config string) pkgs {
	t.Helper()
	stage := filepath.Join(out, "stage-"+version)
	start := time.Now()
	cmd{name: "make", args: []string{"-C", "..", "deb", "rpm", "VERSION=" + version,
		"PKGOUT=" + out, "PKGBUILD=" + stage, "PKG_CONFIG=" + config}}.must(t, 15*time.Minute)
	t.Logf("make deb rpm VERSION=%s: %v", version, time.Since(start).Round(time.Second))
	p := pkgs{version: version, config: config,
		deb: filepath.Join(out, "rdpbroker_"+version+"-1_amd64.deb"),
		rpm: filepath.Join(out, "rdpbroker-"+version+"-1.x86_64.rpm")}
	for _, f := range []string{p.deb, p.rpm} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("make deb rpm VERSION=%s: %v", version, err)
		}
	}
	return p
}

// TestPackages builds the .deb and the .rpm of two versions (the second with
// a changed default configuration) and installs, upgrades and removes them
// in throwaway Debian roots; lintian and rpmlint check them.
func TestPackages(t *testing.T) {
	requirePackageTools(t)
	start := time.Now()
	out := t.TempDir()
	defaultConfig, err := filepath.Abs("rdpbroker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(out, "rdpbroker-1.0.1.yaml")
	data, err := os.ReadFile(defaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(changed, append(data, "# 1.0.1: a new default comment\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	v1 := buildPackages(t, out, "1.0.0", defaultConfig)
	v2 := buildPackages(t, out, "1.0.1", changed)
	rootTarball(t) // made once, before the subtests time themselves

	t.Run("deb", func(t *testing.T) { testDeb(t, v1, v2) })
	t.Run("rpm", func(t *testing.T) { testRPM(t, v1, v2) })
	t.Run("lintian", func(t *testing.T) { testLintian(t, v1.deb) })
	t.Run("rpmlint", func(t *testing.T) { testRpmlint(t, v1.rpm) })
	t.Logf("package test: %v in all", time.Since(start).Round(time.Second))
}

// account is one line of the root's /etc/passwd.
type account struct {
	uid, gid   int
	home, shel string
}

func (r *root) user(t *testing.T, name string) (account, bool) {
	t.Helper()
	for _, line := range strings.Split(r.read(t, "etc/passwd"), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 7 && f[0] == name {
			uid, _ := strconv.Atoi(f[2])
			gid, _ := strconv.Atoi(f[3])
			return account{uid: uid, gid: gid, home: f[5], shel: f[6]}, true
		}
	}
	return account{}, false
}

func (r *root) group(t *testing.T, name string) (int, bool) {
	t.Helper()
	for _, line := range strings.Split(r.read(t, "etc/group"), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 4 && f[0] == name {
			gid, _ := strconv.Atoi(f[2])
			return gid, true
		}
	}
	return 0, false
}

// checkUser asserts the rdpbroker system user and group exist.
func checkUser(t *testing.T, r *root) account {
	t.Helper()
	u, ok := r.user(t, "rdpbroker")
	if !ok {
		t.Fatal("no rdpbroker user in /etc/passwd")
	}
	gid, ok := r.group(t, "rdpbroker")
	if !ok || gid != u.gid {
		t.Fatalf("rdpbroker group: gid %d (found %v), user's gid %d", gid, ok, u.gid)
	}
	if u.uid == 0 || u.uid >= 1000 || u.home != "/var/lib/rdpbroker" || !strings.HasSuffix(u.shel, "/nologin") {
		t.Errorf("rdpbroker user: %+v; want a system uid, home /var/lib/rdpbroker, nologin", u)
	}
	return u
}

// checkMode asserts p's permission bits and owner.
func checkMode(t *testing.T, r *root, p string, mode os.FileMode, uid, gid int) {
	t.Helper()
	fi, err := os.Stat(r.path(p))
	if err != nil {
		t.Error(err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != mode || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: %v %d:%d, want %v %d:%d", p, fi.Mode().Perm(), st.Uid, st.Gid, mode, uid, gid)
	}
}

// checkInstalled asserts what both packages install, at version.
func checkInstalled(t *testing.T, r *root, unitDir, version string) {
	t.Helper()
	u := checkUser(t, r)
	checkMode(t, r, "etc/rdpbroker", 0o750, 0, u.gid)
	checkMode(t, r, "etc/rdpbroker/rdpbroker.yaml", 0o640, 0, u.gid)
	checkMode(t, r, "usr/bin/rdpbroker", 0o755, 0, 0)
	for _, f := range []string{unitDir + "/rdpbroker.service", "usr/share/man/man8/rdpbroker.8.gz",
		"usr/share/doc/rdpbroker/copyright", "usr/share/doc/rdpbroker/examples/keepalived.conf"} {
		if !r.exists(f) {
			t.Errorf("%s not installed", f)
		}
	}
	if got := r.cmd("rdpbroker", "--version").must(t, time.Minute); got != "rdpbroker "+version+"-1\n" {
		t.Errorf("rdpbroker --version = %q, want the package version %s-1", got, version)
	}
	// The service user can read the packaged configuration, and it is valid.
	got := r.cmd("setpriv", "--reuid=rdpbroker", "--regid=rdpbroker", "--init-groups",
		"rdpbroker", "check-config", "--config", "/etc/rdpbroker/rdpbroker.yaml").must(t, time.Minute)
	if !strings.Contains(got, "OK") {
		t.Errorf("check-config as rdpbroker: %s", got)
	}
}

// checkUpgradeCalls asserts the maintainer scripts upgraded a running
// broker with SIGUSR2 and never restarted or stopped it.
func checkUpgradeCalls(t *testing.T, calls, out string) {
	t.Helper()
	if !strings.Contains(calls, "kill -s USR2 --kill-who=main rdpbroker.service") {
		t.Errorf("upgrade: no SIGUSR2 to the main process; systemctl calls:\n%s", calls)
	}
	for _, line := range strings.Split(calls, "\n") {
		for _, word := range strings.Fields(line) {
			switch word {
			case "restart", "try-restart", "reload-or-restart", "stop":
				t.Errorf("upgrade: systemctl %s", line)
			}
		}
	}
	if !strings.Contains(out, "sessions moved to the new binary (pid 4242 -> 4243)") {
		t.Errorf("upgrade: the scripts did not wait for the new main PID:\n%s", out)
	}
}
