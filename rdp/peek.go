package rdp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// ReadConnectionRequest reads the client's first packet from c and parses
// it. It reads with as few system calls as the client's segments allow
// (one, for a client that sends the packet in one segment, as every client
// does): into a buffer larger than any Connection Request, so raw is the
// packet followed by whatever arrived with it. A client waits for the
// Connection Confirm before it sends more, so that is nothing in practice;
// a client that sent more anyway loses nothing, since the caller replays
// raw whole to the server. At most FirstReadLen bytes are read: the rest
// stays in the socket for the caller to forward or splice. It neither
// buffers c nor keeps a reference to it.
//
// deadline is one absolute read deadline for the whole packet, so a client
// trickling a byte a second is cut off at it; it is cleared again on
// success. raw is the bytes read so far, also on error (for logs).
//
// Errors: a timeout wraps ErrTimeout and os.ErrDeadlineExceeded; the peer
// closing early wraps ErrShort and io.EOF (nothing read) or
// io.ErrUnexpectedEOF; header bytes that cannot start a TPKT (0x16 for TLS,
// a version but 3, a reserved byte but 0) give ErrTLS or ErrNotTPKT, also
// when the rest of the header never came; a bad TPKT length gives
// ErrTPKTLength at once, without waiting for the bytes it announces; a
// complete but bad packet gives the ParseConnectionRequest error.
func ReadConnectionRequest(c net.Conn, deadline time.Time) (raw []byte, req ConnRequest, err error) {
	bp := firstReadBufs.Get().(*[FirstReadLen]byte)
	defer firstReadBufs.Put(bp)
	p := firstPacket{buf: bp[:], need: TPKTHeaderLen}
	done, err := p.readNow(c)
	if err == nil && !done {
		err = p.readWithin(c, deadline)
	}
	raw = bytes.Clone(p.buf[:p.have])
	if err != nil {
		return raw, ConnRequest{}, fmt.Errorf("rdp: read connection request: %w", err)
	}
	if req, err = ParseConnectionRequest(raw[:p.need]); err != nil {
		return raw, ConnRequest{}, err
	}
	return raw, req, nil
}

// FirstReadLen is the most ReadConnectionRequest reads: a Connection
// Request (at most MaxPacketLen) and whatever came with it.
const FirstReadLen = 512

// firstPacket is the first packet being read: buf[:have] read so far,
// need the bytes that make it whole (the TPKT header until it is in, then
// the length it gives).
type firstPacket struct {
	buf        []byte
	have, need int
}

// complete reports whether the packet is whole.
func (p *firstPacket) complete() bool { return p.have >= p.need }

// add takes m more bytes read into buf; once the header is in, it checks
// it and learns the packet's length.
func (p *firstPacket) add(m int) error {
	header := p.need == TPKTHeaderLen && p.have < TPKTHeaderLen
	p.have += m
	if header && p.have >= TPKTHeaderLen {
		n, err := PacketLength([TPKTHeaderLen]byte(p.buf[:TPKTHeaderLen]))
		if err != nil {
			return err
		}
		p.need = n
	}
	return nil
}

// readFrom reads from r until the packet is whole.
func (p *firstPacket) readFrom(r io.Reader) error {
	for !p.complete() {
		m, rerr := r.Read(p.buf[p.have:])
		if err := p.add(m); err != nil {
			return err
		}
		if rerr != nil && !p.complete() {
			return firstReadError(p.buf[:p.have], p.need, rerr)
		}
	}
	return nil
}

// readWithin reads the rest of the packet from c under the read deadline,
// which it clears again once the packet is whole.
func (p *firstPacket) readWithin(c net.Conn, deadline time.Time) error {
	if err := c.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	if err := p.readFrom(c); err != nil {
		return err
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear deadline: %w", err)
	}
	return nil
}

// readNow reads what c holds now, without waiting, when c gives access to
// its descriptor (a TCP connection does): one read(2). A client sends its
// Connection Request right after the handshake, so it is usually there
// by the time it is read, and then no read deadline is set and cleared
// (two timer updates). done is true when the packet is whole.
func (p *firstPacket) readNow(c net.Conn) (done bool, err error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, nil
	}
	r := nowReader{buf: p.buf}
	if err := rc.Read(r.read); err != nil {
		return false, nil // closed, or a deadline already set: the slow path says
	}
	switch {
	case r.err == syscall.EAGAIN:
		return false, nil
	case r.err != nil:
		return false, firstReadError(nil, p.need, r.err)
	case r.n == 0:
		return false, firstReadError(nil, p.need, io.EOF)
	}
	if err := p.add(r.n); err != nil {
		return false, err
	}
	return p.complete(), nil
}

// nowReader is readNow's read(2): it never asks to wait.
type nowReader struct {
	buf []byte
	n   int
	err error
}

func (r *nowReader) read(fd uintptr) bool {
	for {
		r.n, r.err = syscall.Read(int(fd), r.buf)
		if r.err != syscall.EINTR {
			return true
		}
	}
}

// firstReadBufs holds ReadConnectionRequest's buffers: a reader is an
// interface, so a buffer on the stack would escape, one allocation per
// client; the bytes read are copied out at their size.
var firstReadBufs = sync.Pool{New: func() any { return new([FirstReadLen]byte) }}

// firstReadError classifies a read that failed after got: in the header,
// what did arrive may already prove this is not TPKT; then as readError.
func firstReadError(got []byte, need int, err error) error {
	if len(got) >= TPKTHeaderLen {
		return readError("packet", len(got), need, err)
	}
	if len(got) > 0 {
		if lerr := checkLeadByte(got[0]); lerr != nil {
			return lerr
		}
	}
	if len(got) > 1 && got[1] != 0 {
		return fmt.Errorf("tpkt reserved byte 0x%02x: %w", got[1], ErrNotTPKT)
	}
	return readError("tpkt header", len(got), TPKTHeaderLen, err)
}

// ReadConnectionConfirm reads exactly one TPKT packet from r and parses it
// as a Connection Confirm. Deadlines are the caller's (set them on the
// connection first); read errors are classified as in ReadConnectionRequest.
func ReadConnectionConfirm(r io.Reader) (ConnConfirm, error) {
	raw, err := readPacket(r)
	if err != nil {
		return ConnConfirm{}, fmt.Errorf("rdp: read connection confirm: %w", err)
	}
	return ParseConnectionConfirm(raw)
}

// readPacket reads exactly one TPKT packet (MinPacketLen..MaxPacketLen
// bytes) from r: the 4-byte header, then the rest of the length it
// announces. On error it returns the bytes read so far.
func readPacket(r io.Reader) ([]byte, error) {
	var hdr [TPKTHeaderLen]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		got := append([]byte(nil), hdr[:n]...)
		// What did arrive may already prove this is not TPKT.
		if n > 0 {
			if lerr := checkLeadByte(hdr[0]); lerr != nil {
				return got, lerr
			}
		}
		if n > 1 && hdr[1] != 0 {
			return got, fmt.Errorf("tpkt reserved byte 0x%02x: %w", hdr[1], ErrNotTPKT)
		}
		return got, readError("tpkt header", n, TPKTHeaderLen, err)
	}
	n, err := PacketLength(hdr)
	if err != nil {
		return append([]byte(nil), hdr[:]...), err
	}
	buf := make([]byte, n)
	copy(buf, hdr[:])
	if m, err := io.ReadFull(r, buf[TPKTHeaderLen:]); err != nil {
		return buf[:TPKTHeaderLen+m], readError("packet", TPKTHeaderLen+m, n, err)
	}
	return buf, nil
}

// readError classifies a read error after got of want bytes: a timeout
// (ErrTimeout, and os.ErrDeadlineExceeded even if the conn reports its
// timeouts otherwise); the peer closing or resetting the connection
// (ErrShort with io.EOF when nothing came at all, else
// io.ErrUnexpectedEOF); anything else is returned with context only.
func readError(what string, got, want int, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%s: %w after %d of %d bytes: %w", what, ErrTimeout, got, want, err)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s: %w after %d of %d bytes: %w: %w", what, ErrTimeout, got, want, os.ErrDeadlineExceeded, err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		if got > 0 {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%s: %w: connection closed after %d of %d bytes: %w", what, ErrShort, got, want, err)
	case errors.Is(err, syscall.ECONNRESET):
		eof := io.EOF
		if got > 0 {
			eof = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%s: %w: connection reset after %d of %d bytes: %w (%w)", what, ErrShort, got, want, eof, err)
	}
	return fmt.Errorf("%s after %d of %d bytes: %w", what, got, want, err)
}
