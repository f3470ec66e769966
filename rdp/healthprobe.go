package rdp

import (
	"context"
	"fmt"
	"net"
	"time"
)

// ProbeRequest is the Connection Request Probe sends: TPKT length 19, X.224
// CR (LI 14, dst-ref 0, src-ref 0, class 0), no cookie, RDP_NEG_REQ with
// flags 0 and requestedProtocols 0x0b (SSL | HYBRID | HYBRID_EX). Every RDP
// server since Windows Server 2008 (and xrdp, FreeRDP) answers it with a
// Connection Confirm; it is the check Kemp LoadMaster performs. It is
// exported for documentation and tests: Probe sends its own copy.
var ProbeRequest = probeRequest()

func probeRequest() []byte {
	return []byte{0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x08, 0x00, 0x0b, 0, 0, 0}
}

// DefaultProbeTimeout bounds a Probe whose context has no deadline.
const DefaultProbeTimeout = 2 * time.Second

// Probe checks that an RDP stack, not just a TCP listener, answers at addr:
// it dials with dial (a zero net.Dialer's DialContext when nil), sends
// ProbeRequest, reads exactly one packet and parses it as a Connection
// Confirm. A confirm with RDP_NEG_RSP, with RDP_NEG_FAILURE (the server
// wants other protocols but is alive) or without negotiation (a pre-2008
// server) means alive: nil.
//
// The context's deadline, or DefaultProbeTimeout when it has none, bounds
// the whole exchange, and cancelling the context aborts it. Errors name the
// address and the failed step ("rdp: probe ADDR: STEP: ..." with STEP one of
// dial, send request, read confirm, parse confirm) and wrap the cause
// (ErrTimeout, ErrNotTPKT, context.Canceled, ...). The connection is always
// closed.
func Probe(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultProbeTimeout)
		defer cancel()
	}
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	c, err := dial(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("rdp: probe %s: dial: %w", addr, err)
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	if err := c.SetDeadline(deadline); err != nil {
		return fmt.Errorf("rdp: probe %s: set deadline: %w", addr, err)
	}
	// Cancellation unblocks pending I/O by moving the deadline to the past.
	// Registered after SetDeadline, so it cannot be overwritten by it.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.Write(probeRequest()); err != nil {
		return fmt.Errorf("rdp: probe %s: send request: %w", addr, withCause(ctx, err))
	}
	raw, err := readPacket(c)
	if err != nil {
		return fmt.Errorf("rdp: probe %s: read confirm: %w", addr, withCause(ctx, err))
	}
	if _, err := parseConfirm(raw); err != nil {
		return fmt.Errorf("rdp: probe %s: parse confirm: %w", addr, err)
	}
	return nil
}

// withCause adds the context's error to err when the context is done, or
// its deadline has passed (the connection's deadline, the same instant,
// may fire before the context's timer): it is then why the I/O failed.
func withCause(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); cerr == nil && ok && !time.Now().Before(d) {
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}
