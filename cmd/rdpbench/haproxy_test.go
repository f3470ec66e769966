package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestHAProxyConfig(t *testing.T) {
	farm := []string{"127.0.0.1:4001", "127.0.0.1:4002"}
	seed := haproxyConfig(haproxySetup{maxconn: 9888, nbthread: 8}, "127.0.0.1:3389", farm)
	best := haproxyConfig(haproxySetup{best: true, maxconn: 9888, nbthread: 8, maxpipes: 80}, "127.0.0.1:3389", farm)
	common := []string{
		"maxconn 9888\n", "bind 127.0.0.1:3389\n", "tcp-request inspect-delay 2s\n", "tcp-request content accept if RDP_COOKIE\n",
		"balance leastconn\n", "stick on rdp_cookie(mstshash)\n", "default-server inter 3s rise 2 fall 3\n",
		"server ts01 127.0.0.1:4001 weight 10 check\n", "server ts02 127.0.0.1:4002 weight 10 check\n",
	}
	tuned := []string{"nbthread 8\n", "maxpipes 80\n", "option splice-request\n", "option splice-response\n"}
	for _, w := range common {
		if !strings.Contains(seed, w) || !strings.Contains(best, w) {
			t.Errorf("%q missing from a config", w)
		}
	}
	for _, w := range tuned {
		if strings.Contains(seed, w) {
			t.Errorf("the seed's config has %q", w)
		}
		if !strings.Contains(best, w) {
			t.Errorf("the best config lacks %q", w)
		}
	}
	// The global section holds nbthread, the defaults the splice options.
	if g, d := strings.Index(best, "nbthread"), strings.Index(best, "defaults"); g > d {
		t.Error("nbthread is not in the global section")
	}
	if d, f, s := strings.Index(best, "defaults"), strings.Index(best, "frontend"), strings.Index(best, "option splice-request"); s < d || s > f {
		t.Error("the splice options are not in the defaults section")
	}
}

// TestHAProxyConfigValid has HAProxy check both configs, where it is
// installed.
func TestHAProxyConfigValid(t *testing.T) {
	const bin = "/usr/sbin/haproxy"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("no HAProxy")
	}
	for _, best := range []bool{false, true} {
		cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
		text := haproxyConfig(haproxySetup{best: best, maxconn: 1000, nbthread: 2, maxpipes: 10}, "127.0.0.1:3389", []string{"127.0.0.1:4001"}) // -c binds nothing
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput()
		if err != nil || strings.Contains(string(out), "WARNING") {
			t.Errorf("best=%v: haproxy -c: %v\n%s", best, err, out)
		}
	}
}

func TestHAProxyMaxpipes(t *testing.T) {
	tests := []struct {
		name              string
		maxconn, nbthread int
		limit             uint64
		want              int
	}{
		// 20,000 - 2 x 9888 - 32 - 4 x 2 = 184 descriptors: 92 pipes.
		{"this machine", 9888, 2, 20000, 92},
		{"16 threads", 9888, 16, 20000, 64},
		{"no descriptor shortage: the default", 10016, 16, 1 << 20, 2504},
		{"none left", 2032, 2, 4096, 1},
	}
	for _, tc := range tests {
		if got := haproxyMaxpipes(tc.maxconn, tc.nbthread, tc.limit); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestHAProxyStartsAtTheLimit starts the best HAProxy with the maxconn and
// maxpipes of this process's descriptor limit: it refuses to start when
// they ask for more descriptors than the limit holds.
func TestHAProxyStartsAtTheLimit(t *testing.T) {
	const bin = "/usr/sbin/haproxy"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("no HAProxy")
	}
	limit, err := fdLimit()
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{haproxyBin: bin, fdLimit: limit, idleRequested: 10000, idleSessions: min(10000, idleCap(limit))}
	p, err := b.startTarget("haproxy", t.TempDir(), []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"})
	if err != nil {
		t.Fatal(err)
	}
	p.Stop()
}
