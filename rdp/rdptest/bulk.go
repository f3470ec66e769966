package rdptest

import (
	"errors"
	"io"
	"net"
)

// Sink's read buffers. io.Copy(io.Discard, c) reads 8 KiB at a time, so in
// an upload benchmark the sinking server made 32 times the syscalls of a
// client reading 256 KiB at a time, and the load generator, not the proxy,
// was the bottleneck. A 256 KiB buffer for every session would cost 2.5 GiB
// for 10,000 idle sessions, so a session starts small and grows once a
// read fills the small buffer: only sessions that stream pay for the big
// one.
const (
	sinkSmall = 4 << 10
	sinkLarge = 256 << 10
)

// sink reads and discards everything from c until EOF (a nil error, as
// io.Copy reports it) or a read error, and returns the bytes read.
func sink(c net.Conn) (int64, error) {
	buf := make([]byte, sinkSmall)
	var n int64
	for {
		m, err := c.Read(buf)
		n += int64(m)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if m == len(buf) && len(buf) < sinkLarge {
			buf = make([]byte, sinkLarge)
		}
	}
}

// sourceChunk is what Source writes, over and over.
var sourceChunk = make([]byte, 256<<10)

// source writes sourceChunk to c until a write fails (the client closed).
func source(c *net.TCPConn) (int64, error) {
	var n int64
	for {
		m, err := c.Write(sourceChunk)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
}
