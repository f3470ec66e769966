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
	rc, err := src.SyscallConn()
	if err != nil {
		return io.Copy(dst, src)
	}
	var written int64
	for {
		buf, n, err := readSmall(rc, src)
		if err != nil || n == 0 { // error, or EOF (nil error)
			return written, err
		}
		m, werr := dst.Write((*buf)[:n])
		written += int64(m)
		smallBufs.Put(buf)
		if werr != nil {
			return written, werr
		}
		if n == smallBufSize { // bulk: splice from here on
			spliceStarted.Add(1)
			spliceActive.Add(1)
			m, err := io.Copy(dst, src)
			spliceActive.Add(-1)
			return written + m, err
		}
	}
}

// readSmall waits for src to be readable holding no buffer, then reads what
// is there into a pooled one. n == 0 with a nil error is EOF; on n > 0 the
// caller owns buf and puts it back.
func readSmall(rc syscall.RawConn, src *net.TCPConn) (buf *[]byte, n int, err error) {
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		b := smallBufs.Get().(*[]byte)
		for {
			n, rerr = syscall.Read(int(fd), *b)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			smallBufs.Put(b)
			return false
		}
		buf = b
		return true
	})
	if err != nil { // closed or read deadline
		return nil, 0, err
	}
	if rerr != nil || n <= 0 {
		smallBufs.Put(buf)
		if rerr != nil {
			return nil, 0, &net.OpError{Op: "read", Net: "tcp", Source: src.LocalAddr(), Addr: src.RemoteAddr(), Err: rerr}
		}
		return nil, 0, nil
	}
	return buf, n, nil
}
