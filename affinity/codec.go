package affinity

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Binary encoding of a record, used on disk (value of the key) and on the
// wire (after the key):
//
//	byte    format (1)
//	byte    flags (bit 0: tombstone)
//	uvarint version wall (Unix ms)
//	uvarint version logical
//	uvarint expires (Unix ms)
//	uvarint len(node), node bytes
//	uvarint len(server), server bytes
//
// A typical record takes 20-40 bytes.
const recordFormat = 1

// Limits enforced by the decoders (a peer or a damaged file never makes
// us allocate more).
const (
	maxKeyLen    = 1024
	maxNameLen   = 255 // node id, server name
	flagDeleted  = 1
	minRecordLen = 7
)

var errShort = errors.New("truncated")

func appendRecord(dst []byte, r record) []byte {
	var flags byte
	if r.deleted {
		flags |= flagDeleted
	}
	dst = append(dst, recordFormat, flags)
	dst = binary.AppendUvarint(dst, uint64(r.ver.Wall))
	dst = binary.AppendUvarint(dst, uint64(r.ver.Logical))
	dst = binary.AppendUvarint(dst, uint64(r.expires))
	dst = appendString(dst, r.ver.Node)
	return appendString(dst, r.server)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads the encodings above; the first error sticks.
type decoder struct {
	b   []byte
	err error
	in  *interner // optional: share repeated names
}

func (d *decoder) fail(what string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w", what, err)
	}
}

func (d *decoder) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail(what, errShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string, max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what, errShort)
		return 0
	}
	if v > max {
		d.fail(what, fmt.Errorf("%d out of range", v))
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string, max int) []byte {
	n := d.uvarint(what+" length", uint64(max))
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.fail(what, errShort)
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) name(what string) string {
	b := d.bytes(what, maxNameLen)
	if d.in != nil {
		return d.in.get(b)
	}
	return string(b)
}

func (d *decoder) record() record {
	if f := d.byte1("format"); d.err == nil && f != recordFormat {
		d.fail("format", fmt.Errorf("unknown record format %d", f))
	}
	flags := d.byte1("flags")
	var r record
	r.deleted = flags&flagDeleted != 0
	r.ver.Wall = int64(d.uvarint("version wall", 1<<62))
	r.ver.Logical = uint32(d.uvarint("version logical", 1<<32-1))
	r.expires = int64(d.uvarint("expires", 1<<62))
	r.ver.Node = d.name("node")
	r.server = d.name("server")
	if d.err == nil && !r.deleted && r.server == "" {
		d.fail("server", errors.New("empty server in a live entry"))
	}
	return r
}

// decodeRecord decodes one stored value; trailing bytes are an error.
func decodeRecord(b []byte, in *interner) (record, error) {
	d := decoder{b: b, in: in}
	r := d.record()
	if d.err == nil && len(d.b) != 0 {
		d.fail("record", fmt.Errorf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return record{}, fmt.Errorf("affinity: decode record: %w", d.err)
	}
	return r, nil
}

// interner shares the few distinct server and node names among millions
// of records. Not safe for concurrent use.
type interner struct{ m map[string]string }

func newInterner() *interner { return &interner{m: make(map[string]string)} }

func (in *interner) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in.m) < 4096 {
		in.m[s] = s
	}
	return s
}
