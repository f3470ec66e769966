package appliance

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/rdpbroker/rdpbroker/appliance/admission"
	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/routing"
)

// Reject is why a client was closed before any server was reached.
type Reject int

// Reject reasons, in the order Counters reports them.
const (
	RejectTLS               Reject = iota // first byte 0x16: TLS without X.224
	RejectMalformed                       // not a valid TPKT/X.224 Connection Request
	RejectTimeout                         // first packet not complete within inspect_timeout
	RejectClosed                          // client closed before sending a whole packet
	RejectNoCookie                        // no cookie/token and no_cookie: reject
	RejectTokenRefused                    // msts token not naming a usable configured server
	RejectAmbiguous                       // truncated cookie, candidates disagree, ambiguous: reject
	RejectNoServer                        // pool has no available server, or every connect failed
	RejectLimit                           // global max_sessions or descriptor limit reached, or no local resources to dial
	RejectAffinityDown                    // the user's affined server is down, within affinity.down_grace
	RejectInternal                        // a bug: panic recovered while handling the client
	RejectUnknownCollection               // tsv:// collection no rule names, unknown_collection: reject
	RejectSourceLimit                     // the client's source holds its share (admission: per source)
	RejectEvicted                         // pending, closed to make room for another source's client
	numRejects
)

var rejectNames = [numRejects]string{
	"tls", "malformed", "timeout", "closed", "no_cookie", "token_refused",
	"ambiguous", "no_server", "limit", "affinity_down", "internal",
	"unknown_collection", "source_limit", "evicted",
}

func (r Reject) String() string {
	if r < 0 || r >= numRejects {
		return "unknown"
	}
	return rejectNames[r]
}

// Counters are the broker's monotonic counters (the metrics issue exports
// them). All fields are safe for concurrent use.
type Counters struct {
	Accepted        atomic.Uint64 // connections accepted
	Sessions        atomic.Uint64 // sessions proxied to a server
	Active          atomic.Int64  // sessions currently proxied
	ConnectFailures atomic.Uint64 // failed dials to servers (each retry counts)
	BytesIn         atomic.Uint64 // client -> server, including the replayed first packet
	BytesOut        atomic.Uint64 // server -> client
	Ambiguous       atomic.Uint64 // truncated cookies whose candidate users disagreed on the pool
	affinity        sync.Map      // routing.Affinity* outcome -> *atomic.Uint64
	rejects         [numRejects]atomic.Uint64

	// admission is who holds the pending slots, per source: a gauge
	// like Active, kept here as the broker's live connection state
	// (admit.go).
	admission admission.Gate
	decisions decisionCounts
}

// countDecision counts one routing decision: its rule and pool, the kind
// of identity the request carried, ambiguity and the affinity outcome.
func (c *Counters) countDecision(req rdp.ConnRequest, login rdp.Login, d routing.Decision) {
	c.decisions.count(req, login, d)
	if d.Ambiguous {
		c.Ambiguous.Add(1)
	}
	c.countAffinity(d.Affinity)
}

// countAffinity counts one decision's affinity outcome.
func (c *Counters) countAffinity(outcome string) {
	if outcome == routing.AffinityNone {
		return
	}
	v, ok := c.affinity.Load(outcome)
	if !ok {
		v, _ = c.affinity.LoadOrStore(outcome, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

// AffinityOutcomes returns how many decisions had each affinity outcome
// (routing.Affinity* constants).
func (c *Counters) AffinityOutcomes() map[string]uint64 {
	out := make(map[string]uint64)
	c.affinity.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// Rejected returns how many clients were closed for reason r.
func (c *Counters) Rejected(r Reject) uint64 { return c.rejects[r].Load() }

// RejectedTotal sums every reject reason.
func (c *Counters) RejectedTotal() uint64 {
	var n uint64
	for i := range c.rejects {
		n += c.rejects[i].Load()
	}
	return n
}

// RejectCounts maps every reason name to its count.
func (c *Counters) RejectCounts() map[string]uint64 {
	m := make(map[string]uint64, numRejects)
	for i := range c.rejects {
		m[rejectNames[i]] = c.rejects[i].Load()
	}
	return m
}

func (c *Counters) reject(r Reject) { c.rejects[r].Add(1) }

// classifyReadError maps a first-packet read error to a reject reason.
func classifyReadError(err error) Reject {
	switch {
	case errors.Is(err, rdp.ErrTLS):
		return RejectTLS
	case errors.Is(err, rdp.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded):
		return RejectTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return RejectClosed
	case errors.Is(err, net.ErrClosed):
		// Only admission closes a client whose first packet is being
		// read: evicted to make room.
		return RejectEvicted
	}
	return RejectMalformed
}

// classifyDecision maps a routing refusal to a reject reason.
func classifyDecision(err error) Reject {
	switch {
	case errors.Is(err, routing.ErrUnknownCollection):
		return RejectUnknownCollection
	case errors.Is(err, routing.ErrNoCookie):
		return RejectNoCookie
	case errors.Is(err, routing.ErrTokenRefused):
		return RejectTokenRefused
	case errors.Is(err, routing.ErrAmbiguous):
		return RejectAmbiguous
	case errors.Is(err, routing.ErrAffinityDown):
		return RejectAffinityDown
	}
	return RejectNoServer
}
