package affinity

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Replication messages (memberlist user messages and push/pull state):
//
//	byte  wireMagic
//	byte  type
//	msgEntries: uvarint count, then count x (uvarint len(key), key, record)
//	msgDigest:  uvarint len(node), node, byte flags (bit 0: reply wanted),
//	            uvarint numBuckets, numBuckets x uint64 little endian
//
// Records use the stored encoding (codec.go). A digest is the XOR of a
// hash of every (key, record) in a bucket: two nodes holding the same
// records have the same digests, and a bucket that differs is sent whole.
const (
	wireMagic  = 0xaf
	msgEntries = 1
	msgDigest  = 2

	digestReply = 1
)

// message is a decoded replication message.
type message struct {
	typ     byte
	entries []keyed  // msgEntries
	node    string   // msgDigest: sender
	reply   bool     // msgDigest: the sender wants our digest back
	digests []uint64 // msgDigest
}

// appendEntry appends one (key, record) of a msgEntries body.
func appendEntry(dst []byte, kr keyed) []byte {
	dst = appendString(dst, kr.key)
	return appendRecord(dst, kr.rec)
}

// encodeEntries splits recs into msgEntries messages of at most maxBytes
// each (a single larger entry gets a message of its own).
func encodeEntries(recs []keyed, maxBytes int) [][]byte {
	var out [][]byte
	var body []byte
	count := 0
	var tmp []byte
	emit := func() {
		if count == 0 {
			return
		}
		msg := make([]byte, 0, 2+binary.MaxVarintLen64+len(body))
		msg = append(msg, wireMagic, msgEntries)
		msg = binary.AppendUvarint(msg, uint64(count))
		out = append(out, append(msg, body...))
		body, count = body[:0], 0
	}
	for _, kr := range recs {
		tmp = appendEntry(tmp[:0], kr)
		if count > 0 && 2+binary.MaxVarintLen64+len(body)+len(tmp) > maxBytes {
			emit()
		}
		body = append(body, tmp...)
		count++
	}
	emit()
	return out
}

func encodeDigest(node string, reply bool, digests []uint64) []byte {
	msg := make([]byte, 0, 8+len(node)+8*len(digests))
	msg = append(msg, wireMagic, msgDigest)
	msg = appendString(msg, node)
	var flags byte
	if reply {
		flags |= digestReply
	}
	msg = append(msg, flags)
	msg = binary.AppendUvarint(msg, uint64(len(digests)))
	for _, d := range digests {
		msg = binary.LittleEndian.AppendUint64(msg, d)
	}
	return msg
}

// decodeMessage decodes a replication message; garbage gives an error.
func decodeMessage(b []byte) (message, error) {
	var m message
	if len(b) < 2 {
		return m, errors.New("affinity: decode message: too short")
	}
	if b[0] != wireMagic {
		return m, fmt.Errorf("affinity: decode message: bad magic %#x", b[0])
	}
	m.typ = b[1]
	d := decoder{b: b[2:], in: newInterner()}
	switch m.typ {
	case msgEntries:
		// every entry takes at least 1 + minRecordLen bytes
		n := d.uvarint("count", uint64(len(d.b)/(1+minRecordLen)))
		if d.err == nil {
			m.entries = make([]keyed, 0, n)
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			k := d.bytes("key", maxKeyLen)
			r := d.record()
			if d.err == nil && len(k) == 0 {
				d.fail("key", errors.New("empty"))
			}
			m.entries = append(m.entries, keyed{string(k), r})
		}
	case msgDigest:
		m.node = d.name("node")
		m.reply = d.byte1("flags")&digestReply != 0
		n := d.uvarint("buckets", numBuckets)
		if d.err == nil && n != numBuckets {
			d.fail("buckets", fmt.Errorf("%d buckets, want %d", n, numBuckets))
		}
		if d.err == nil && len(d.b) < 8*numBuckets {
			d.fail("digests", errShort)
		}
		if d.err == nil {
			m.digests = make([]uint64, numBuckets)
			for i := range m.digests {
				m.digests[i] = binary.LittleEndian.Uint64(d.b[8*i:])
			}
			d.b = d.b[8*numBuckets:]
		}
	default:
		return m, fmt.Errorf("affinity: decode message: unknown type %d", m.typ)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("message", fmt.Errorf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return message{}, fmt.Errorf("affinity: decode message type %d: %w", m.typ, d.err)
	}
	return m, nil
}
