package packaging

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rootPackages are installed into the throwaway root besides minbase: the
// .deb's dependencies (adduser, procps for /bin/kill in ExecReload) and
// systemd for systemd-analyze.
var rootPackages = []string{"adduser", "procps", "systemd"}

const suite = "bookworm"

// cacheDir is where the debootstrap root is kept between runs:
// $RDPBROKER_TEST_CACHE, else $XDG_CACHE_HOME/rdpbroker-test, else
// /var/cache/rdpbroker-test.
func cacheDir() string {
	if d := os.Getenv("RDPBROKER_TEST_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "rdpbroker-test")
	}
	return "/var/cache/rdpbroker-test"
}

// mirror is the Debian mirror the machine's apt uses.
func mirror() string {
	for _, f := range []string{"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			switch {
			case len(fields) >= 2 && fields[0] == "URIs:":
				return fields[1]
			case len(fields) >= 3 && fields[0] == "deb" && !strings.Contains(fields[2], "security"):
				return fields[1]
			}
		}
	}
	return "http://deb.debian.org/debian"
}

// rootTarball returns the cached tarball of a minbase root with
// rootPackages, making it with debootstrap on the first run.
func rootTarball(t *testing.T) string {
	t.Helper()
	sum := sha256.Sum256([]byte(suite + " minbase " + strings.Join(rootPackages, ",")))
	dir := cacheDir()
	tarball := filepath.Join(dir, "debian-"+suite+"-"+hex.EncodeToString(sum[:6])+".tar")
	if _, err := os.Stat(tarball); err == nil {
		t.Logf("debootstrap root: cached %s", tarball)
		return tarball
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("cache dir: %v", err)
	}
	build, err := os.MkdirTemp(dir, "debootstrap-")
	if err != nil {
		t.Fatalf("cache dir: %v", err)
	}
	defer os.RemoveAll(build)
	start := time.Now()
	run("debootstrap", "--variant=minbase", "--include="+strings.Join(rootPackages, ","),
		suite, build, mirror()).must(t, 15*time.Minute)
	tmp := tarball + ".tmp"
	run("tar", "--one-file-system", "-C", build, "-cf", tmp, ".").must(t, 5*time.Minute)
	if err := os.Rename(tmp, tarball); err != nil {
		t.Fatalf("cache the root: %v", err)
	}
	t.Logf("debootstrap root: made %s in %v", tarball, time.Since(start).Round(time.Second))
	return tarball
}

// root is a throwaway Debian root extracted from the cached tarball.
type root struct {
	dir string
}

func newRoot(t *testing.T) *root {
	t.Helper()
	tarball := rootTarball(t)
	r := &root{dir: t.TempDir()}
	run("tar", "-C", r.dir, "-xf", tarball).must(t, 5*time.Minute)
	// "/" of the root must be searchable by the service user (t.TempDir
	// and the debootstrap directory are 0700).
	if err := os.Chmod(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// path is p inside the root.
func (r *root) path(p string) string { return filepath.Join(r.dir, p) }

// cmd runs args inside the root: its own mount and PID namespaces with /proc
// mounted, so nothing outlives the command or leaks into the host.
func (r *root) cmd(args ...string) cmd {
	a := append([]string{"--mount", "--pid", "--fork", "--mount-proc=" + r.path("proc"),
		"chroot", r.dir}, args...)
	return cmd{name: "unshare", args: a, env: []string{"LANG=C", "DEBIAN_FRONTEND=noninteractive",
		"SYSTEMD_COLORS=0", "SYSTEMD_URLIFY=0", "TERM=dumb",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}
}

func (r *root) write(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(r.path(p)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path(p), []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func (r *root) read(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(r.path(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func (r *root) exists(p string) bool {
	_, err := os.Lstat(r.path(p))
	return err == nil
}

// fakeSystemctl replaces systemctl in the root: it logs every call to
// /tmp/systemctl.log, hands offline calls (--root=) to the real one, says the service is active and reports a new main PID
// once it was sent SIGUSR2 (as the session-keeping upgrade does). Together
// with /run/systemd/system (systemdRunning) the maintainer scripts believe
// systemd runs; without it they must not call systemctl at all.
const fakeSystemctl = `#!/bin/sh
echo "$*" >>/tmp/systemctl.log
case "$1" in --root=*) exec /usr/bin/systemctl.real "$@" ;; esac
case "$*" in
*is-active*) exit 0 ;;
*is-enabled*) echo enabled ;;
*show*MainPID*) if grep -q 'USR2' /tmp/systemctl.log; then echo 4243; else echo 4242; fi ;;
esac
exit 0
`

func (r *root) installFakeSystemctl(t *testing.T) {
	t.Helper()
	real := r.path("usr/bin/systemctl")
	if err := os.Rename(real, real+".real"); err != nil {
		t.Fatalf("move systemctl aside: %v", err)
	}
	r.write(t, "usr/bin/systemctl", fakeSystemctl, 0o755)
}

// systemdRunning makes /run/systemd/system exist in the root, or not.
func (r *root) systemdRunning(t *testing.T, on bool) {
	t.Helper()
	var err error
	if on {
		err = os.MkdirAll(r.path("run/systemd/system"), 0o755)
	} else {
		err = os.RemoveAll(r.path("run/systemd/system"))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// systemctlCalls returns the fake systemctl's log and empties it.
// deb-systemd-helper's own offline calls (systemctl --root=/ preset, which
// need no running systemd) are left out.
func (r *root) systemctlCalls(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(r.path("tmp/systemctl.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	_ = os.Remove(r.path("tmp/systemctl.log"))
	var calls []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line != "" && !strings.HasPrefix(line, "--root=") {
			calls = append(calls, line)
		}
	}
	return strings.Join(calls, "\n")
}
