package affinity

import (
	"bytes"
	"testing"
)

func seedMessages() [][]byte {
	recs := []keyed{
		{"alice", record{server: "ts01", expires: 1_800_000_000_000, ver: Version{1_700_000_000_000, 3, "node-a"}}},
		{"bob", record{deleted: true, expires: 1_800_000_000_000, ver: Version{1_700_000_000_001, 0, "node-b"}}},
	}
	out := encodeEntries(recs, tcpChunk)
	out = append(out, encodeDigest("node-a", true, make([]uint64, numBuckets)))
	out = append(out, []byte{wireMagic}, []byte{wireMagic, 9}, []byte{wireMagic, msgEntries, 0xff, 0xff, 0xff, 0xff, 0x0f})
	return out
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range seedMessages() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		// what decodes re-encodes to the same bytes
		var again []byte
		switch m.typ {
		case msgEntries:
			if len(m.entries) == 0 {
				return
			}
			msgs := encodeEntries(m.entries, 1<<30)
			again = msgs[0]
		case msgDigest:
			again = encodeDigest(m.node, m.reply, m.digests)
		}
		if !bytes.Equal(again, b) {
			m2, err := decodeMessage(again)
			if err != nil || !equalMessages(m, m2) {
				t.Fatalf("re-encoding changed the message: %v", err)
			}
		}
	})
}

func equalMessages(a, b message) bool {
	if a.typ != b.typ || a.node != b.node || a.reply != b.reply || len(a.entries) != len(b.entries) {
		return false
	}
	for i := range a.entries {
		if a.entries[i] != b.entries[i] {
			return false
		}
	}
	return equalDigests(a.digests, b.digests)
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, record{server: "ts01", expires: 1_800_000_000_000, ver: Version{1_700_000_000_000, 3, "a"}}))
	f.Add(appendRecord(nil, record{deleted: true, expires: 5, ver: Version{4, 0, "b"}}))
	f.Add([]byte{})
	f.Add([]byte{recordFormat, 0, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b, newInterner())
		if err != nil {
			return
		}
		r2, err := decodeRecord(appendRecord(nil, r), nil)
		if err != nil || r2 != r {
			t.Fatalf("round trip: %+v -> %+v, %v", r, r2, err)
		}
	})
}

func TestDecodeErrors(t *testing.T) {
	good := encodeEntries([]keyed{{"alice", record{server: "ts01", expires: 9, ver: Version{1, 0, "a"}}}}, tcpChunk)[0]
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad magic", []byte{0, msgEntries, 0}},
		{"truncated", good[:len(good)-1]},
		{"trailing", append(append([]byte(nil), good...), 0)},
		{"huge count", []byte{wireMagic, msgEntries, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"short digest", encodeDigest("a", false, make([]uint64, numBuckets))[:100]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeMessage(tt.b); err == nil {
				t.Errorf("decodeMessage accepted %x", tt.b)
			}
		})
	}
	if _, err := decodeMessage(good); err != nil {
		t.Errorf("good message: %v", err)
	}
}
