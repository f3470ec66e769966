package packaging

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const keepalivedExample = "keepalived/keepalived.conf"

// keepalivedTest runs `keepalived -t -f file` and returns its output and
// whether keepalived accepted the file. keepalived 2.2.7 (Debian 12) ends a
// config test with SIGTERM to itself whenever a vrrp_script runs under
// enable_script_security (acassen/keepalived#2587, fixed in 2.2.8): that is
// accepted when it printed no diagnostic. It exits 0 for a missing file:
// the caller checks the file was parsed.
func keepalivedTest(t *testing.T, file string) (string, bool) {
	t.Helper()
	r := run("keepalived", "-t", "-f", file).exec(t, time.Minute) // own process group: it signals itself
	var exit *exec.ExitError
	switch {
	case r.err == nil:
		return r.out, true
	case errors.As(r.err, &exit):
		ws, ok := exit.Sys().(syscall.WaitStatus)
		return r.out, ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM && strings.TrimSpace(r.out) == ""
	default:
		t.Fatalf("keepalived -t: %v", r.err)
		return "", false
	}
}

// TestKeepalivedExample: keepalived accepts the HA pair example, and really
// parsed it (the same file with a typo is refused, naming the line).
func TestKeepalivedExample(t *testing.T) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived not installed: run scripts/install-package-deps.sh")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl (the example's track_script) not installed: run scripts/install-package-deps.sh")
	}
	file := keepalivedExample
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.InterfaceByName("eth0"); err != nil {
		// keepalived refuses an interface the machine lacks: test a copy on lo.
		file = filepath.Join(t.TempDir(), "keepalived.conf")
		if err := os.WriteFile(file, []byte(strings.ReplaceAll(string(data), "eth0", "lo")), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("no eth0 here: checking a copy with interface lo")
	}
	if out, ok := keepalivedTest(t, file); !ok {
		t.Fatalf("keepalived -t -f %s refused the example:\n%s", file, out)
	}

	typo := filepath.Join(t.TempDir(), "typo.conf")
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(content), "advert_int 1", "advert_intt 1", 1)
	if bad == string(content) {
		t.Fatal("the example has no advert_int line")
	}
	if err := os.WriteFile(typo, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, ok := keepalivedTest(t, typo)
	if ok || !strings.Contains(out, typo) || !strings.Contains(out, "Unknown keyword 'advert_intt'") {
		t.Fatalf("keepalived -t did not refuse a typo in the example (accepted %v):\n%s", ok, out)
	}
	for _, want := range []string{"http://127.0.0.1:9000/-/ready", "track_script", "virtual_ipaddress", "unicast_peer"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the example lacks %q", want)
		}
	}
}
