package affinity

import (
	"github.com/hashicorp/memberlist"
)

// delegate and events are the Replicator as memberlist sees it.
type (
	delegate Replicator
	events   Replicator
)

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*events)(nil)
)

func (d *delegate) NodeMeta(limit int) []byte { return nil }

// NotifyMsg handles a direct push, a gossiped broadcast or a digest. It
// runs on memberlist's receive path: merging is memory only.
func (d *delegate) NotifyMsg(b []byte) {
	r := (*Replicator)(d)
	m, err := decodeMessage(b)
	if err != nil {
		r.log.Warn("affinity: bad replication message", "err", err, "bytes", len(b))
		return
	}
	switch m.typ {
	case msgEntries:
		r.t.merge(m.entries)
	case msgDigest:
		r.handleDigest(m)
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

// LocalState is this node's half of a push/pull (on join and every
// PushPullInterval): its bucket digests, a few KiB whatever the table
// size. The records of differing buckets follow as direct messages.
func (d *delegate) LocalState(join bool) []byte {
	r := (*Replicator)(d)
	return encodeDigest(r.self, false, r.t.digests())
}

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	r := (*Replicator)(d)
	m, err := decodeMessage(buf)
	if err != nil || m.typ != msgDigest {
		r.log.Warn("affinity: bad push/pull state", "err", err, "bytes", len(buf))
		return
	}
	r.handleDigest(m)
}

func (e *events) NotifyJoin(n *memberlist.Node) {
	r := (*Replicator)(e)
	if n.Name == r.self {
		return
	}
	r.log.Info("affinity: peer up", "peer", n.Name, "addr", n.Address())
	p := r.peerFor(n.Name, n.Address())
	p.setConnected(true)
	p.requestSync(nil, 0, true)
}

func (e *events) NotifyLeave(n *memberlist.Node) {
	r := (*Replicator)(e)
	if n.Name == r.self {
		return
	}
	r.log.Warn("affinity: peer down", "peer", n.Name, "addr", n.Address())
	r.peerFor(n.Name, n.Address()).setConnected(false)
}

func (e *events) NotifyUpdate(n *memberlist.Node) {}
