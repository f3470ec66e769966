package relay

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// smallBufSize is the pooled buffer of the small mode: a TLS record fits.
const smallBufSize = 16 << 10

var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallBufSize); return &b }}

// Directions that went to io.Copy, process-wide: on Linux each holds a
// pipe (two descriptors) from Go's pipe pool while it copies, and the pool
// keeps the pipe after it ends until the garbage collector frees it. Like
// that pool, these counters are the process's, not one Relay's.
var spliceActive, spliceStarted atomic.Int64

// Splicing returns how many directions are copying through io.Copy
// (splice) now, and how many ever did: the descriptor budget reserves two
// per pipe they may hold (appliance/fdlimit.go).
func Splicing() (active, started int64) { return spliceActive.Load(), spliceStarted.Load() }

// Copy copies src to dst like io.Copy (nil error at EOF): small reads
// through a pooled buffer, and from the first read that fills it, io.Copy
// between the raw connections (splice on Linux).
func Copy(dst, src *net.TCPConn) (int64, error) {
	return newCopier(dst, src).copy()
}

// copier is one direction's copy loop. It keeps what every read needs,
// the source's RawConn and the read callback bound once, so that a small
// read allocates nothing: a fresh RawConn and closure per read were the
// largest allocations of a short connection.
type copier struct {
	dst, src *net.TCPConn
	rc       syscall.RawConn
	read     func(fd uintptr) bool // readFD, bound once

	// readFailed says the error copy returned came from reading src
	// (small mode); false for a write error or one from io.Copy, which
	// does not say which side failed.
	readFailed bool

	// Set by readFD for the caller of rc.Read.
	buf  *[]byte
	n    int
	rerr error
}

func newCopier(dst, src *net.TCPConn) *copier {
	c := &copier{dst: dst, src: src}
	c.rc, _ = src.SyscallConn() // fails only for a nil conn: copy falls back to io.Copy
	c.read = c.readFD
	return c
}

// copy runs the direction until EOF (nil error) or an error, such as the
// read deadline a quiesce sets.
func (c *copier) copy() (int64, error) {
	if c.rc == nil {
		return io.Copy(c.dst, c.src)
	}
	var written int64
	c.readFailed = false
	for {
		buf, n, err := c.readSmall()
		if err != nil || n == 0 { // error, or EOF (nil error)
			c.readFailed = err != nil
			return written, err
		}
		m, werr := c.dst.Write((*buf)[:n])
		written += int64(m)
		smallBufs.Put(buf)
		if werr != nil {
			return written, werr
		}
		if n == smallBufSize { // bulk: splice from here on
			spliceStarted.Add(1)
			spliceActive.Add(1)
			m, err := io.Copy(c.dst, c.src)
			spliceActive.Add(-1)
			return written + m, err
		}
	}
}

// readSmall waits for src to be readable holding no buffer, then reads what
// is there into a pooled one. n == 0 with a nil error is EOF; on n > 0 the
// caller owns buf and puts it back.
func (c *copier) readSmall() (buf *[]byte, n int, err error) {
	c.buf, c.n, c.rerr = nil, 0, nil
	if err := c.rc.Read(c.read); err != nil { // closed or read deadline
		return nil, 0, err
	}
	buf, n, rerr := c.buf, c.n, c.rerr
	c.buf = nil
	if rerr != nil || n <= 0 {
		smallBufs.Put(buf)
		if rerr != nil {
			return nil, 0, &net.OpError{Op: "read", Net: "tcp", Source: c.src.LocalAddr(), Addr: c.src.RemoteAddr(), Err: rerr}
		}
		return nil, 0, nil
	}
	return buf, n, nil
}

// readFD is the RawConn read callback: one read(2) into a pooled buffer,
// false (wait for readiness) on EAGAIN.
func (c *copier) readFD(fd uintptr) bool {
	b := smallBufs.Get().(*[]byte)
	var n int
	var err error
	for {
		n, err = syscall.Read(int(fd), *b)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EAGAIN {
		smallBufs.Put(b)
		return false
	}
	c.buf, c.n, c.rerr = b, n, err
	return true
}
