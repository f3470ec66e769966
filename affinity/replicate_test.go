package affinity

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

func writeSecret(t testing.TB, dir, name string, b byte) string {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = b + byte(i)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// node describes one child broker of a cluster test.
type node struct {
	name, addr, db string
}

func (n node) start(t *testing.T, members, secret string, extra ...string) *child {
	env := append([]string{"AFF_NODE=" + n.name, "AFF_DB=" + n.db, "AFF_LISTEN=" + n.addr,
		"AFF_MEMBERS=" + members, "AFF_SECRET=" + secret}, extra...)
	return startChild(t, n.name, "node", env...)
}

// converged waits until every child reports the same table sum, then
// compares their full dumps.
func converged(t *testing.T, cs ...*child) []string {
	t.Helper()
	rdptest.EventuallyWhy(t, 30*time.Second, func() string {
		var sums []string
		for _, c := range cs {
			sums = append(sums, c.do("sum", "sum "))
		}
		for _, s := range sums[1:] {
			if s != sums[0] {
				return "tables differ: " + strings.Join(sums, " | ")
			}
		}
		return ""
	})
	first := cs[0].dump()
	for _, c := range cs[1:] {
		if d := c.dump(); !reflect.DeepEqual(d, first) {
			t.Fatalf("%s and %s: same sum, different dumps", cs[0].name, c.name)
		}
	}
	return first
}

// parallel runs one command on several children at once.
func parallel(t *testing.T, cmds map[*child]string) {
	var wg sync.WaitGroup
	for c, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.do(cmd, "ok")
		}()
	}
	wg.Wait()
}

func entriesByKey(dump []string) map[string]string {
	out := map[string]string{}
	for _, l := range dump {
		k, rest, _ := strings.Cut(l, " ")
		out[k] = rest
	}
	return out
}

// versionOf parses "server deleted wall logical node" from a dump line.
func versionOf(line string) Version {
	f := strings.Fields(line)
	wall, _ := strconv.ParseInt(f[len(f)-3], 10, 64)
	logical, _ := strconv.ParseUint(f[len(f)-2], 10, 32)
	return Version{Wall: wall, Logical: uint32(logical), Node: f[len(f)-1]}
}

// TestClusterProcesses: three broker processes on loopback place users
// concurrently (with conflicts) and converge; one is killed, the others
// keep placing, it restarts alone, places conflicting keys, rejoins and
// all converge by the LWW rule; a node with another key is refused.
func TestClusterProcesses(t *testing.T) {
	dir := t.TempDir()
	secret := writeSecret(t, dir, "secret", 1)
	var ns []node
	for _, name := range []string{"a", "b", "c"} {
		ns = append(ns, node{name, rdptest.FreeTCPUDPAddr(t), filepath.Join(dir, name, "affinity.db")})
	}
	members := ns[0].addr
	a := ns[0].start(t, members, secret)
	a.expect("ready", 20*time.Second)
	b := ns[1].start(t, members, secret)
	c := ns[2].start(t, members, secret)
	b.expect("ready", 20*time.Second)
	c.expect("ready", 20*time.Second)
	for _, x := range []*child{a, b, c} {
		rdptest.EventuallyWhy(t, 20*time.Second, func() string {
			if l := x.do("members", "members "); strings.Count(l, ",") != 2 {
				return x.name + ": " + l
			}
			return ""
		})
	}

	// concurrent placements, u200-u349 placed by two or three nodes
	parallel(t, map[*child]string{
		a: "place u 0 300 srvA",
		b: "place u 200 500 srvB",
		c: "place u 250 350 srvC",
	})
	parallel(t, map[*child]string{a: "delete u10", b: "place v 0 100 srvB", c: "delete u260"})
	dump := converged(t, a, b, c)
	byKey := entriesByKey(dump)
	if len(byKey) != 600 {
		t.Fatalf("converged on %d keys, want 600", len(byKey))
	}
	if !strings.HasPrefix(byKey["u10"], " true") || !strings.HasPrefix(byKey["u0"], "srvA ") ||
		!strings.HasPrefix(byKey["u450"], "srvB ") {
		t.Errorf("unexpected entries: u10=%q u0=%q u450=%q", byKey["u10"], byKey["u0"], byKey["u450"])
	}

	// partition: c dies; a and b go on placing, partly the same keys
	c.do("flush", "flushed")
	c.kill(syscall.SIGKILL)
	parallel(t, map[*child]string{a: "place p 0 100 srvA2", b: "place w 0 50 srvB2"})
	// c restarts alone: its store serves at once; it places conflicting keys
	c = ns[2].start(t, members, secret, "AFF_NOJOIN=1")
	// It loads what it had flushed: the converged table (whether c's own
	// delete of u260 won depends on the HLC versions, not on call order).
	live := 0
	for _, v := range byKey {
		if !strings.HasPrefix(v, " true") {
			live++
		}
	}
	if l := c.expect("loaded ", 20*time.Second); l != "loaded "+strconv.Itoa(live) {
		t.Errorf("restarted c: %q, want loaded %d (the converged table's live entries)", l, live)
	}
	c.expect("alone", 10*time.Second)
	if l := c.do("get u450", "get "); l != "get u450 srvB true" {
		t.Errorf("restarted c before rejoining: %q", l)
	}
	c.do("place p 50 150 srvC2", "ok")
	// a writes last: a wins p140-p149. Versions are HLCs: "last" needs a
	// later wall millisecond than c's writes (within one millisecond the
	// logical counters, not the order of the calls, decide).
	cWall := versionOf(entriesByKey(c.dump())["p149"]).Wall
	rdptest.Poll(time.Second, func() (bool, string) { return time.Now().UnixMilli() > cWall, "" })
	a.do("place p 140 160 srvA3", "ok")
	before := map[string]map[string]string{"a": entriesByKey(a.dump()), "c": entriesByKey(c.dump())}
	c.do("replicate", "ready")
	dump = converged(t, a, b, c)
	byKey = entriesByKey(dump)
	for i := 50; i < 150; i++ {
		k := "p" + strconv.Itoa(i)
		ea, ec := before["a"][k], before["c"][k]
		want := ec
		if ec == "" || (ea != "" && versionOf(ea).Compare(versionOf(ec)) > 0) {
			want = ea
		}
		if byKey[k] != want {
			t.Fatalf("%s: converged on %q; a had %q, c had %q", k, byKey[k], ea, ec)
		}
	}
	if !strings.HasPrefix(byKey["p145"], "srvA3 ") || !strings.HasPrefix(byKey["p60"], "srvC2 ") {
		t.Errorf("LWW winners: p145=%q p60=%q", byKey["p145"], byKey["p60"])
	}
	if len(byKey) != 600+100+50+60 {
		t.Errorf("converged on %d keys, want %d", len(byKey), 810)
	}

	// a node with another key can neither join nor inject entries
	intruder := node{"x", rdptest.FreeTCPUDPAddr(t), filepath.Join(dir, "x", "affinity.db")}
	x := intruder.start(t, members, writeSecret(t, dir, "other", 99))
	if l := x.expect("ready", 20*time.Second); l != "ready 1" {
		t.Errorf("intruder: %q, want ready 1 (alone)", l)
	}
	x.do("place evil 0 5 srvX", "ok")
	if l := a.do("members", "members "); strings.Contains(l, "x") {
		t.Errorf("a accepted the intruder: %s", l)
	}
	if l := x.do("sum", "sum "); !strings.HasSuffix(l, " 5") {
		t.Errorf("intruder learned entries: %s", l)
	}
	if l := a.do("get evil0", "get "); l != "get evil0  false" {
		t.Errorf("intruder's entry reached a: %s", l)
	}
	if !strings.Contains(x.stderr.String(), "join peers") {
		t.Errorf("intruder logged no join failure")
	}

	// b stopped while a and c place (b's peers queue, its kernel buffers
	// or anti-entropy repairs), then resumed: all converge
	b.kill(syscall.SIGSTOP)
	parallel(t, map[*child]string{a: "place s 0 50 srvA", c: "place s 25 75 srvC"})
	b.kill(syscall.SIGCONT)
	if got := len(converged(t, a, b, c)); got != 810+75 {
		t.Errorf("after SIGSTOP/SIGCONT: %d keys, want %d", got, 885)
	}
	for _, y := range []*child{a, b, c} {
		y.do("quit", "bye")
	}
}
