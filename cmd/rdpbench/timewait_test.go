package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readTW(t *testing.T, name string) []twSocket {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tws, err := parseTimeWait(f)
	if err != nil {
		t.Fatal(err)
	}
	return tws
}

func TestParseTimeWait(t *testing.T) {
	tws := readTW(t, "proc-net-tcp.txt")
	want := []twSocket{
		{"0101007F:9C41 0100007F:0D3D", 3389, 60 * time.Second},
		{"0201007F:8E02 0100007F:0D3D", 3389, 58880 * time.Millisecond},
		{"0101007F:9001 0100007F:0D3D", 3389, 30 * time.Second},
		{"0100007F:C350 0100007F:A410", 42000, 59680 * time.Millisecond},
		{"0100007F:C351 0100007F:A411", 42001, time.Second},
		{"0100007F:C352 0100007F:1F90", 8080, 59940 * time.Millisecond},
	}
	if len(tws) != len(want) {
		t.Fatalf("%d TIME_WAIT sockets, want %d (LISTEN, ESTABLISHED and FIN_WAIT2 left out): %v", len(tws), len(want), tws)
	}
	for i, w := range want {
		if tws[i] != w {
			t.Errorf("socket %d = %+v, want %+v", i, tws[i], w)
		}
	}
}

func TestParseTimeWaitIPv6(t *testing.T) {
	tws := readTW(t, "proc-net-tcp6.txt")
	if len(tws) != 1 || tws[0].remotePort != 3389 || tws[0].left != 5985*twTick {
		t.Fatalf("tcp6: %v, want one socket toward 3389 with 59.85s left", tws)
	}
}

func TestParseTimeWaitBadLine(t *testing.T) {
	for _, line := range []string{
		"   2: 0101007F:9C41 0100007F:ZZZZ 06 00000000:00000000 03:00001770 00000000 0 0 0 3 0",
		"   2: 0101007F:9C41 0100007F:0D3D 06 00000000:00000000 00:00001770 00000000 0 0 0 3 0",
		"   2: 0101007F:9C41 0100007F:0D3D 06 00000000:00000000 03:xyz 00000000 0 0 0 3 0",
	} {
		if _, err := parseTimeWait(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("%q parsed", line)
		}
	}
}

func TestMadeBetween(t *testing.T) {
	before, after := readTW(t, "proc-net-tcp-before.txt"), readTW(t, "proc-net-tcp.txt")
	proxy, farm := portsOf("127.0.0.1:3389"), portsOf("127.0.0.1:42000", "127.0.0.1:42001")
	// Toward the proxy: 9C41 is new, 8E02 was there with 25.6s left and
	// now has 58.88s (made again), 9001 only aged. Toward the farm: C350
	// is new, C351 only aged (C399 expired). 8080 is neither's.
	if n := madeBetween(before, after, proxy); n != 2 {
		t.Errorf("toward the proxy: %d, want 2", n)
	}
	if n := madeBetween(before, after, farm); n != 1 {
		t.Errorf("toward the farm: %d, want 1", n)
	}
	if n := madeBetween(nil, after, proxy); n != 3 {
		t.Errorf("with no table before: %d toward the proxy, want all 3", n)
	}
	if n := madeBetween(after, after, proxy); n != 0 {
		t.Errorf("the same table twice: %d, want 0", n)
	}
}

// TestTimeWaitLive makes a TIME_WAIT socket and finds it: the tick unit
// (twTick) is what the kernel uses, or the time left would be far off.
func TestTimeWaitLive(t *testing.T) {
	if tws, err := timeWaits(); err == nil && twBuckets() > 0 && len(tws) > twBuckets()-100 {
		t.Skipf("%d TIME_WAIT sockets, the table holds %d: a new one may skip TIME_WAIT", len(tws), twBuckets())
	}
	before, err := timeWaits()
	if err != nil {
		t.Fatal(err)
	}
	addr := closeFirst(t)
	time.Sleep(200 * time.Millisecond)
	tws, err := timeWaits()
	if err != nil {
		t.Fatal(err)
	}
	if n := madeBetween(before, tws, portsOf(addr)); n != 1 {
		t.Fatalf("%d new TIME_WAIT sockets toward %s, want 1", n, addr)
	}
	for _, tw := range tws {
		if portsOf(addr)[tw.remotePort] && (tw.left > twLen || tw.left < twLen-2*time.Second) {
			t.Errorf("time left %v, want just under %v", tw.left, twLen)
		}
	}
}
