package affinity

import (
	"path/filepath"
	"testing"
	"time"
)

// TestFlushUsesInjectedClock: the flush times in Stats come from the
// table's clock, like every other time it reports (they came from
// time.Now before, so a table on a fake clock reported a flush years away
// from its own "now").
func TestFlushUsesInjectedClock(t *testing.T) {
	fc := newFakeClock()
	tb := openAt(t, filepath.Join(t.TempDir(), "a.db"), fc, nil)
	defer tb.Close()
	tb.Place("alice", "ts01")
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	st := tb.Stats()
	if !st.LastFlush.Equal(fc.Now()) {
		t.Errorf("LastFlush = %v, want the injected clock's %v", st.LastFlush, fc.Now())
	}
	if st.LastFlushDuration != 0 {
		t.Errorf("LastFlushDuration = %v on a clock that did not move", st.LastFlushDuration)
	}
	fc.Add(time.Minute)
	tb.Place("bob", "ts02")
	tb.Flush()
	if got := tb.Stats().LastFlush; !got.Equal(fc.Now()) {
		t.Errorf("second LastFlush = %v, want %v", got, fc.Now())
	}
}
