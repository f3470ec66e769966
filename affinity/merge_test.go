package affinity

import (
	"math/rand/v2"
	"testing"
	"time"
)

func memTable(t testing.TB, fc *fakeClock, node string) *Table {
	t.Helper()
	tb, err := Open("", DefaultConfig(), Options{Now: fc.Now, Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}

func TestNewerLWW(t *testing.T) {
	exp := int64(1 << 50)
	w := func(wall int64, logical uint32, node, server string) record {
		return record{server: server, expires: exp, ver: Version{wall, logical, node}}
	}
	tomb := func(wall int64, node string) record {
		return record{deleted: true, expires: exp, ver: Version{wall, 0, node}}
	}
	tests := []struct {
		name string
		a, b record
		want bool // a wins
	}{
		{"later write wins", w(2, 0, "a", "s1"), w(1, 0, "b", "s2"), true},
		{"earlier write loses", w(1, 0, "a", "s1"), w(2, 0, "b", "s2"), false},
		{"tombstone after write wins", tomb(3, "a"), w(2, 0, "b", "s1"), true},
		{"write after tombstone wins", w(4, 0, "b", "s1"), tomb(3, "a"), true},
		{"tombstone before write loses", tomb(1, "a"), w(2, 0, "b", "s1"), false},
		{"equal wall: logical", w(5, 1, "a", "s1"), w(5, 0, "b", "s2"), true},
		{"equal wall and logical: node id", w(5, 0, "b", "s1"), w(5, 0, "a", "s2"), true},
		{"equal wall and logical: node id, lower", w(5, 0, "a", "s1"), w(5, 0, "b", "s2"), false},
		{"identical", w(5, 0, "a", "s1"), w(5, 0, "a", "s1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newer(tt.a, tt.b); got != tt.want {
				t.Errorf("newer(a, b) = %v, want %v", got, tt.want)
			}
			if tt.want && newer(tt.b, tt.a) {
				t.Errorf("both directions win")
			}
		})
	}
}

// randomRecords makes conflicting writes of a few keys by a few nodes.
func randomRecords(rng *rand.Rand, base int64, n int) []keyed {
	nodes := []string{"a", "b", "c"}
	servers := []string{"s1", "s2", "s3"}
	out := make([]keyed, n)
	for i := range out {
		r := record{
			server:  servers[rng.IntN(3)],
			expires: base + int64(time.Hour/time.Millisecond) + rng.Int64N(1000),
			ver:     Version{Wall: base + rng.Int64N(5), Logical: uint32(rng.IntN(2)), Node: nodes[rng.IntN(3)]},
		}
		if rng.IntN(4) == 0 {
			r.deleted, r.server = true, ""
		}
		out[i] = keyed{key: "k" + string(rune('a'+rng.IntN(6))), rec: r}
	}
	return out
}

func tableState(tb *Table) map[string]record {
	out := map[string]record{}
	for i := range tb.shards {
		for k, r := range tb.shards[i].m {
			out[k] = r
		}
	}
	return out
}

func equalState(a, b map[string]record) bool {
	if len(a) != len(b) {
		return false
	}
	for k, r := range a {
		if b[k] != r {
			return false
		}
	}
	return true
}

// TestMergeProperties: any order, any repetition, any split of the same
// records gives the same table (commutative, idempotent, associative),
// and the digests agree.
func TestMergeProperties(t *testing.T) {
	fc := newFakeClock()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		recs := randomRecords(rng, fc.Now().UnixMilli(), 40)
		ref := memTable(t, fc, "ref")
		ref.merge(recs)
		want := tableState(ref)

		shuffled := append([]keyed(nil), recs...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		other := memTable(t, fc, "other")
		half := len(shuffled) / 2
		other.merge(shuffled[half:])
		other.merge(shuffled[:half])
		other.merge(recs) // again: idempotent
		if got := tableState(other); !equalState(got, want) {
			t.Fatalf("round %d: order changed the result:\n got %v\nwant %v", round, got, want)
		}
		if a, b := ref.digests(), other.digests(); !equalDigests(a, b) {
			t.Fatalf("round %d: same state, different digests", round)
		}
		// the kept record is the maximum of its key
		for _, kr := range recs {
			if newer(kr.rec, want[kr.key]) {
				t.Fatalf("round %d: %s kept %+v although %+v is newer", round, kr.key, want[kr.key], kr.rec)
			}
		}
	}
}

func equalDigests(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestMergeIgnoresExpired(t *testing.T) {
	fc := newFakeClock()
	tb := memTable(t, fc, "a")
	now := fc.Now().UnixMilli()
	n := tb.merge([]keyed{{"old", record{server: "s1", expires: now - 1, ver: Version{now - 10, 0, "b"}}}})
	if n != 0 || tb.Len() != 0 {
		t.Errorf("expired record merged: n=%d len=%d", n, tb.Len())
	}
}

func TestLocalWriteBeatsObserved(t *testing.T) {
	fc := newFakeClock()
	tb := memTable(t, fc, "a")
	now := fc.Now().UnixMilli()
	// a peer whose clock is a minute ahead wrote u1
	tb.merge([]keyed{{"u1", record{server: "far", expires: now + 3600_000, ver: Version{now + 60_000, 0, "b"}}}})
	tb.Place("u1", "near")
	if s, _ := tb.Lookup("u1"); s != "near" {
		t.Errorf("local Place after observing a future version: Lookup = %q, want near", s)
	}
}
