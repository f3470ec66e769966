package affinity

import (
	"path/filepath"
	"testing"
	"time"
)

func TestOverrideRoundTripAndInvisible(t *testing.T) {
	fc := newFakeClock()
	tb := memTable(t, fc, "a")
	tb.Place("alice", "ts01")
	at := fc.Now()
	if err := tb.SetOverride("ts01", Override{State: "drain", Weight: 7, UntilRestart: true, By: "uid 0 (root)", At: at}); err != nil {
		t.Fatal(err)
	}
	o, ok := tb.Override("ts01")
	want := Override{State: "drain", Weight: 7, UntilRestart: true, By: "uid 0 (root)", At: time.UnixMilli(at.UnixMilli())}
	if !ok || o.State != want.State || o.Weight != 7 || !o.UntilRestart || o.By != want.By || !o.At.Equal(want.At) {
		t.Fatalf("Override = %+v, %v; want %+v", o, ok, want)
	}
	// Not an entry: not routed to, not listed, not counted, not cleared.
	if _, ok := tb.Lookup(OverridePrefix + "ts01"); ok {
		t.Error("override answers Lookup")
	}
	if n := tb.Len(); n != 1 {
		t.Errorf("Len = %d, want 1 (alice only)", n)
	}
	if st := tb.Stats(); st.Entries != 1 {
		t.Errorf("Stats.Entries = %d, want 1", st.Entries)
	}
	if l := tb.List(Filter{Tombstones: true}); len(l) != 1 || l[0].Key != "alice" {
		t.Errorf("List = %+v, want alice only", l)
	}
	tb.ClearServer("ts01")
	if _, ok := tb.Override("ts01"); !ok {
		t.Error("ClearServer removed the override")
	}
	tb.Set(OverridePrefix+"ts02", "ts02")
	if _, ok := tb.Get(OverridePrefix + "ts02"); ok {
		t.Error("Set wrote a reserved key")
	}
	// Never expires.
	fc.Add(1000 * time.Hour)
	tb.Prune()
	if _, ok := tb.Override("ts01"); !ok {
		t.Error("override pruned")
	}
	if !tb.ClearOverride("ts01") {
		t.Error("ClearOverride found nothing")
	}
	if _, ok := tb.Override("ts01"); ok {
		t.Error("override survived ClearOverride")
	}
	if tb.ClearOverride("ts01") {
		t.Error("second ClearOverride reported a change")
	}
	if got := tb.Overrides([]string{"ts01", "ts02"}); len(got) != 0 {
		t.Errorf("Overrides = %v", got)
	}
}

func TestOverrideReplicatesAndPersists(t *testing.T) {
	fc := newFakeClock()
	a := memTable(t, fc, "a")
	a.replicate.Store(true)
	if err := a.SetOverride("ts01", Override{State: "maintenance", By: "token", At: fc.Now()}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "affinity.db")
	b := openAt(t, path, fc, nil)
	b.merge(a.takeOutbox())
	if o, ok := b.Override("ts01"); !ok || o.State != "maintenance" || o.By != "token" {
		t.Fatalf("merged override = %+v, %v", o, ok)
	}
	// A later clear on a wins over the set everywhere.
	fc.Add(time.Second)
	a.ClearOverride("ts01")
	b.merge(a.takeOutbox())
	if _, ok := b.Override("ts01"); ok {
		t.Fatal("tombstone not merged")
	}
	fc.Add(time.Second)
	if err := b.SetOverride("ts02", Override{State: "active", Weight: 3, At: fc.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	fc.Add(100 * time.Hour) // beyond Expire: entries would be gone
	b = openAt(t, path, fc, nil)
	defer b.Close()
	if o, ok := b.Override("ts02"); !ok || o.Weight != 3 {
		t.Errorf("override after reopen = %+v, %v", o, ok)
	}
	if _, ok := b.Override("ts01"); ok {
		t.Error("cleared override back after reopen")
	}
}

func TestOverrideEncodingRefusesBadInput(t *testing.T) {
	fc := newFakeClock()
	tb := memTable(t, fc, "a")
	if err := tb.SetOverride("ts01", Override{State: "sleeping"}); err == nil {
		t.Error("unknown state accepted")
	}
	if err := tb.SetOverride("", Override{State: "drain"}); err == nil {
		t.Error("empty server accepted")
	}
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'x'
	}
	if err := tb.SetOverride("ts01", Override{State: "drain", By: string(long)}); err != nil {
		t.Errorf("long By not truncated: %v", err)
	}
	if o, _ := tb.Override("ts01"); len(o.By) != maxOverrideBy {
		t.Errorf("By kept %d bytes, want %d", len(o.By), maxOverrideBy)
	}
}
