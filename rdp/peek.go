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
	if err := c.SetReadDeadline(deadline); err != nil {
		return nil, ConnRequest{}, fmt.Errorf("rdp: read connection request: set deadline: %w", err)
	}
	raw, n, err := readFirstPacket(c)
	if err != nil {
		return raw, ConnRequest{}, fmt.Errorf("rdp: read connection request: %w", err)
	}
	if req, err = ParseConnectionRequest(raw[:n]); err != nil {
		return raw, ConnRequest{}, err
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return raw, ConnRequest{}, fmt.Errorf("rdp: read connection request: clear deadline: %w", err)
	}
	return raw, req, nil
}

// FirstReadLen is the most ReadConnectionRequest reads: a Connection
// Request (at most MaxPacketLen) and whatever came with it.
const FirstReadLen = 512

// readFirstPacket reads from r until it holds one whole TPKT packet
// (MinPacketLen..MaxPacketLen bytes), taking whatever else arrived in the
// same reads, up to FirstReadLen. It returns the bytes read and the
// packet's length; on error, the bytes read so far.
func readFirstPacket(r io.Reader) (got []byte, n int, err error) {
	bp := firstReadBufs.Get().(*[FirstReadLen]byte)
	defer firstReadBufs.Put(bp)
	buf := bp[:]
	have, need := 0, TPKTHeaderLen
	for have < need {
		m, rerr := r.Read(buf[have:])
		have += m
		if need == TPKTHeaderLen && have >= TPKTHeaderLen {
			if need, err = PacketLength([TPKTHeaderLen]byte(buf[:TPKTHeaderLen])); err != nil {
				return bytes.Clone(buf[:have]), 0, err
			}
		}
		if rerr != nil && have < need {
			return bytes.Clone(buf[:have]), 0, firstReadError(buf[:have], need, rerr)
		}
	}
	return bytes.Clone(buf[:have]), need, nil
}

// firstReadBufs holds readFirstPacket's buffers: a reader is an
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
