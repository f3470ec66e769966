package migrate

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdpbroker/rdpbroker/affinity"
)

// showTableOut is HAProxy 2.6.12's answer, as captured from its stats
// socket (the escaped backslash of CORP\a included).
const showTableOut = "# table: DF_RDP, type: string, size:10240, used:3\n" +
	"0x7f69dc042cc0: key=CORP\\\\a use=0 exp=28799432 server_id=7 server_key=TS02\n" +
	"0x55a104292990: key=alexan use=0 exp=28799535 server_id=1 server_key=TS01\n" +
	"0x55a104292db0: key=zed use=0 exp=28799484 server_id=1 server_key=TS01\n\n" +
	"# table: Sales_BK, type: string, size:10240, used:3\n" +
	"0x7f69dc042580: key=ALICE use=0 exp=1000 server_id=2 server_key=TS08\n" +
	"0x55a104292590: key=alice use=0 exp=28799067 server_id=1\n" +
	"0x55a104292591: key=a\\ b\\=c use=0 exp=5000 server_id=2 server_name=TS08\n"

func TestParseShowTable(t *testing.T) {
	es, err := ParseShowTable([]byte(showTableOut))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 6 {
		t.Fatalf("%d entries", len(es))
	}
	want := []TableEntry{
		{Table: "DF_RDP", Key: `CORP\a`, ServerID: 7, ServerName: "TS02", Exp: 28799432 * time.Millisecond, HasExp: true, Line: 2},
		{Table: "Sales_BK", Key: "a b=c", ServerID: 2, ServerName: "TS08", Exp: 5 * time.Second, HasExp: true, Line: 9},
	}
	if es[0] != want[0] || es[5] != want[1] {
		t.Errorf("got %+v and %+v\nwant %+v and %+v", es[0], es[5], want[0], want[1])
	}
	if _, err := ParseShowTable([]byte("No such table: X\n")); err == nil {
		t.Error("an error answer parsed as an empty table")
	}
}

// seedCfg: DF_RDP sticks on a 6-byte prefix; TS02 has id 7.
const seedCfg = `frontend f
    bind :3389
    acl sales rdp_cookie(mstshash) -i alice alexander
    use_backend Sales_BK if sales
    default_backend DF_RDP
backend DF_RDP
    stick-table type string len 32 size 10k expire 8h
    stick on rdp_cookie(mstshash),bytes(0,6)
    server TS01 10.0.0.1:3389
    server TS02 10.0.0.2:3389 id 7
backend Sales_BK
    stick-table type string len 32 size 10k expire 8h
    stick on rdp_cookie(mstshash)
    server TS07 10.0.0.7:3389
    server TS08 10.0.0.8:3389
`

func TestPlanAndWriteSeed(t *testing.T) {
	cfg, err := Parse("haproxy.cfg", []byte(seedCfg))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Translate(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	es, err := ParseShowTable([]byte(showTableOut))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	seeds, warns := PlanSeed(res, es, now, "dump.txt")
	got := map[string]string{}
	for _, s := range seeds {
		got[s.Key] = s.Server
	}
	// CORP\a -> a (TS02 by name; id 7); alexan also seeds the known
	// alexander; alice beats ALICE (used later: longer exp); a b=c by
	// server_name.
	want := map[string]string{"a": "TS02", "alexan": "TS01", "alexander": "TS01", "zed": "TS01", "alice": "TS07", "a b=c": "TS08"}
	if len(got) != len(want) {
		t.Errorf("seeds %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s -> %q; want %q (all: %v)", k, got[k], v, got)
		}
	}
	text := ""
	for _, w := range warns {
		text += w.String() + "\n"
	}
	for _, w := range []string{`dump.txt: warning: 2 keys were cut by a bytes(0,N) stick rule (CORP\a, alexan)`, "alice (TS08 or TS07)"} {
		if !strings.Contains(text, w) {
			t.Errorf("missing %q in\n%s", w, text)
		}
	}

	path := filepath.Join(t.TempDir(), "affinity.db")
	n, err := WriteAffinity(path, affinity.DefaultConfig(), affinity.Options{Node: "import"}, seeds)
	if err != nil || n != len(want) {
		t.Fatalf("wrote %d, %v", n, err)
	}
	tb, err := affinity.Open(path, affinity.DefaultConfig(), affinity.Options{Node: "check"})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	for k, v := range want {
		if s, ok := tb.Lookup(k); !ok || s != v {
			t.Errorf("store: %s -> %q %v; want %q", k, s, ok, v)
		}
	}
	// The expiry is HAProxy's exp, not a fresh 8h (affinity.Table.Seed).
	e, _ := tb.Get("a b=c")
	if d := e.Expires.Sub(now); d < 4*time.Second || d > 6*time.Second {
		t.Errorf("a b=c expires in %v; want ~5s", d)
	}
}
