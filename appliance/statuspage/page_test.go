package statuspage

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeSource struct {
	mu   sync.Mutex
	snap Snapshot
}

func (f *fakeSource) Status() Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

func (f *fakeSource) set(fn func(*Snapshot)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.snap)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func sampleSnapshot() Snapshot {
	entries := 17
	return Snapshot{
		Serving: true, Listen: "10.0.0.11:3389", Version: "v1.0.0", Active: 4, Pending: 1,
		Pools: []Pool{
			{Name: "general", Balance: "leastconn", Servers: []Server{
				{Name: "ts01", Address: "10.1.0.1:3389", State: StateUp, Sessions: 3, MaxSessions: 50, Weight: 10, Check: "rdp", LastCheck: t0.Add(-2 * time.Second)},
				{Name: "ts02", Address: "10.1.0.2:3389", State: StateDown, Weight: 10, Check: "rdp", LastCheck: t0.Add(-time.Second), LastError: "dial tcp 10.1.0.2:3389: connect: connection refused <b>"},
				{Name: "ts03", Address: "10.1.0.3:3389", State: StateDraining, Sessions: 1, Weight: 5, Check: "tcp"},
			}},
			{Name: "accounting", Balance: "roundrobin", Servers: []Server{
				{Name: "acc01", Address: "10.2.0.1:3389", State: StateMaint, Check: "none"},
			}},
		},
		Refusals:        map[string]uint64{"no_server": 3, "tls": 1, "limit": 0},
		Directory:       &Directory{Source: "ldap", Server: "ldaps://dc1", DataTime: t0.Add(-4 * time.Minute), LastAttempt: t0.Add(-4 * time.Minute), Users: 1200, Groups: []Group{{Name: "Accounting", Members: 40}}},
		AffinityEntries: &entries,
		Peers:           []Peer{{Name: "b2", Addr: "10.0.0.12:7946", Connected: true, LastContact: t0.Add(-time.Second)}, {Name: "b3", LastError: "timeout"}},
		Config:          &ConfigLoad{LoadedAt: t0.Add(-2 * time.Hour), LastOK: true},
	}
}

func render(t *testing.T, p *Page) string {
	t.Helper()
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 200 {
		t.Fatalf("status page = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// row returns the HTML of the table row with the given id.
func row(page, id string) string {
	m := regexp.MustCompile(`(?s)<tr class="[^"]*" id="` + regexp.QuoteMeta(id) + `">.*?</tr>`).FindString(page)
	return m
}

// text strips tags and collapses white space.
func text(page string) string {
	s := regexp.MustCompile(`(?s)<style>.*?</style>|<[^>]*>`).ReplaceAllString(page, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

func TestPageShowsStates(t *testing.T) {
	c := &clock{t: t0}
	p := New(&fakeSource{snap: sampleSnapshot()}, Options{Now: c.now})
	page := render(t, p)
	for id, want := range map[string]string{
		"server-ts01": `class="s-up"`, "server-ts02": `class="s-down"`,
		"server-ts03": `class="s-draining"`, "server-acc01": `class="s-maint"`,
	} {
		r := row(page, id)
		if !strings.Contains(r, want) {
			t.Errorf("row %s = %q, want %s", id, r, want)
		}
	}
	for id, label := range map[string]string{"server-ts01": "UP", "server-ts02": "DOWN", "server-ts03": "DRAINING", "server-acc01": "MAINTENANCE"} {
		if got := text(row(page, id)); !strings.Contains(got, " "+label+" ") {
			t.Errorf("row %s text %q, want label %s", id, got, label)
		}
	}
	txt := text(page)
	for _, want := range []string{
		"SERVING on 10.0.0.11:3389", "4 sessions · 1 pending · 1 of 4 servers up",
		"Needs attention DOWN ts02 (general, 10.1.0.2:3389) — dial tcp 10.1.0.2:3389: connect: connection refused <b> DRAINING ts03 (general, 10.1.0.3:3389) MAINTENANCE acc01",
		"3 / 50", "0 / ∞",
		"Directory 4m ago OK from ldap (ldaps://dc1), 1200 users",
		"Affinity 17 entries peers in contact: 1 of 2",
		"Configuration 2h ago loaded 2025-03-04 08:00:00 UTC",
		"b3 LOST never — timeout",
		"Accounting 40",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("page text lacks %q\n%s", want, txt)
		}
	}
	if strings.Contains(page, "refused <b>") {
		t.Error("a check error is not escaped")
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("the page must not load scripts or external assets")
	}
	if !strings.Contains(page, `<meta http-equiv="refresh" content="5">`) {
		t.Error("no refresh meta")
	}
}

func TestPageNotServing(t *testing.T) {
	src := &fakeSource{snap: Snapshot{NotServing: "affinity table not loaded"}}
	txt := text(render(t, New(src, Options{})))
	for _, want := range []string{"NOT SERVING affinity table not loaded", "No pools configured.",
		"no directory: static groups", "no affinity table", "load time not known", "No client refused since the start."} {
		if !strings.Contains(txt, want) {
			t.Errorf("page text lacks %q\n%s", want, txt)
		}
	}
}

func TestPageReloadFailedAndStaleDirectory(t *testing.T) {
	s := sampleSnapshot()
	s.Config = &ConfigLoad{LoadedAt: t0.Add(-time.Hour), LastError: "pools[0].servers[1].address: bad"}
	s.Directory.Stale, s.Directory.LastError = true, "ldaps://dc1: connection refused"
	txt := text(render(t, New(&fakeSource{snap: s}, Options{Now: func() time.Time { return t0 }})))
	for _, want := range []string{"RELOAD FAILED pools[0].servers[1].address: bad", "STALE from ldap",
		"last sync 4m ago: ldaps://dc1: connection refused"} {
		if !strings.Contains(txt, want) {
			t.Errorf("page text lacks %q\n%s", want, txt)
		}
	}
}

// TestRecentRefusals: "recent" counts from the first sample until the
// window has passed, then over the window.
func TestRecentRefusals(t *testing.T) {
	c := &clock{t: t0}
	src := &fakeSource{snap: Snapshot{Refusals: map[string]uint64{"tls": 5}}}
	p := New(src, Options{Now: c.now, Window: time.Minute})
	c.add(10 * time.Second)
	src.set(func(s *Snapshot) { s.Refusals = map[string]uint64{"tls": 7, "no_server": 1} })
	if txt := text(render(t, p)); !strings.Contains(txt, "recent = since 10s ago") ||
		!strings.Contains(txt, "tls 2 7") || !strings.Contains(txt, "no_server 1 1") {
		t.Errorf("after 10s: %s", txt)
	}
	c.add(2 * time.Minute) // the 10s sample is now the newest older than the window
	src.set(func(s *Snapshot) { s.Refusals = map[string]uint64{"tls": 7, "no_server": 4} })
	if txt := text(render(t, p)); !strings.Contains(txt, "recent = since 2m ago") ||
		!strings.Contains(txt, "no_server 3 4") || !strings.Contains(txt, "tls 0 7") {
		t.Errorf("after 2m10s: %s", txt)
	}
	c.add(30 * time.Second)
	if txt := text(render(t, p)); !strings.Contains(txt, "recent = since 2m30s ago") {
		t.Errorf("after 2m40s: %s", txt)
	}
	if n := len(p.hist.samples); n > 3 {
		t.Errorf("history holds %d samples, want old ones dropped", n)
	}
}

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1500 * time.Millisecond: "2s ago", 59*time.Minute + 59*time.Second: "59m50s ago", 3*time.Minute + 22*time.Second: "3m20s ago", 5 * time.Minute: "5m ago",
		2*time.Hour + 5*time.Minute + 40*time.Second: "2h5m ago", 72 * time.Hour: "3 days ago", -time.Second: "just now",
	} {
		if got := ago(t0, t0.Add(-d)); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
	if got := ago(t0, time.Time{}); got != "never" {
		t.Errorf("ago(zero) = %q", got)
	}
}
