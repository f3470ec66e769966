package affinity

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// peer sends this node's changes to one cluster member, in order, from
// its own goroutine, so a slow or stopped peer delays nobody else.
type peer struct {
	r      *Replicator
	name   string
	signal chan struct{} // capacity 1: work queued

	mu          sync.Mutex // protects following fields
	addr        string
	connected   bool
	queue       []keyed // local changes to push
	want        []bool  // buckets to send whole (anti-entropy); nil: none
	digest      int     // 0: none; 1: send our digest; 2: and ask for theirs
	needSync    bool    // changes were lost for this peer: resync
	lastSync    time.Time
	lastErr     string
	lastErrAt   time.Time
	sent, drops uint64
}

func newPeer(r *Replicator, name string) *peer {
	return &peer{r: r, name: name, signal: make(chan struct{}, 1)}
}

func (p *peer) wake() {
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

func (p *peer) setAddr(a string) { p.mu.Lock(); p.addr = a; p.mu.Unlock() }

func (p *peer) isConnected() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.connected }

func (p *peer) setConnected(c bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.connected = c
	if !c && len(p.queue) > 0 {
		p.drops += uint64(len(p.queue))
		p.queue, p.needSync = nil, true
	}
}

func (p *peer) markSync() { p.mu.Lock(); p.lastSync = p.r.t.now(); p.mu.Unlock() }

func (p *peer) takeNeedSync() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.needSync
	p.needSync = false
	return n
}

// enqueue queues local changes for the peer; past MaxPeerQueue they are
// dropped and the peer is resynchronised later.
func (p *peer) enqueue(batch []keyed) {
	p.mu.Lock()
	if len(p.queue)+len(batch) > p.r.pc.MaxPeerQueue {
		p.drops += uint64(len(batch))
		p.needSync = true
	} else {
		p.queue = append(p.queue, batch...)
	}
	p.mu.Unlock()
	p.wake()
}

// requestSync asks the goroutine to send the buckets marked in want
// (diff of them) and, if digest, our digests asking for theirs back when
// want is nil (a new exchange) or not (an answer).
func (p *peer) requestSync(want []bool, diff int, digest bool) {
	p.mu.Lock()
	if diff > 0 {
		if p.want == nil {
			p.want = make([]bool, numBuckets)
		}
		for i, w := range want {
			p.want[i] = p.want[i] || w
		}
	}
	if digest {
		level := 1
		if want == nil {
			level = 2
		}
		p.digest = max(p.digest, level)
	}
	p.mu.Unlock()
	p.wake()
}

func (p *peer) run() {
	defer p.r.wg.Done()
	for {
		select {
		case <-p.r.stop:
			return
		case <-p.signal:
		}
		p.mu.Lock()
		queue, want, digest := p.queue, p.want, p.digest
		p.queue, p.want, p.digest = nil, nil, 0
		p.mu.Unlock()
		err := p.send(queue, want, digest)
		p.mu.Lock()
		if err != nil {
			p.lastErr, p.lastErrAt = err.Error(), p.r.t.now()
			p.needSync = true
			p.drops += uint64(len(queue))
		} else {
			p.lastSync = p.r.t.now()
			p.sent += uint64(len(queue))
		}
		p.mu.Unlock()
		if err != nil {
			p.r.log.Debug("affinity: send to peer", "peer", p.name, "err", err)
		}
	}
}

func (p *peer) send(queue []keyed, want []bool, digest int) error {
	ml := p.r.ml.Load()
	n := p.r.node(p.name)
	if n == nil {
		return fmt.Errorf("affinity: send to %s: %w", p.name, errNotMember)
	}
	if len(queue) > 0 {
		if msgs := encodeEntries(queue, udpPayload); len(msgs) == 1 && len(msgs[0]) <= udpPayload {
			if err := ml.SendBestEffort(n, msgs[0]); err != nil {
				return fmt.Errorf("affinity: send to %s: %w", p.name, err)
			}
		} else {
			for _, m := range encodeEntries(queue, tcpChunk) {
				if err := ml.SendReliable(n, m); err != nil {
					return fmt.Errorf("affinity: send to %s: %w", p.name, err)
				}
			}
		}
	}
	if want != nil {
		for _, m := range encodeEntries(p.r.t.bucketRecords(want), tcpChunk) {
			if err := ml.SendReliable(n, m); err != nil {
				return fmt.Errorf("affinity: sync to %s: %w", p.name, err)
			}
		}
	}
	if digest > 0 {
		if err := ml.SendReliable(n, encodeDigest(p.r.self, digest == 2, p.r.t.digests())); err != nil {
			return fmt.Errorf("affinity: digest to %s: %w", p.name, err)
		}
	}
	return nil
}

// PeerState is one peer's replication state, for the admin API.
type PeerState struct {
	Name        string
	Addr        string
	Connected   bool      // a live cluster member
	LastSync    time.Time // last successful send to it or digest from it
	Queued      int       // local changes waiting to be sent (lag)
	Sent        uint64    // local changes sent
	Dropped     uint64    // local changes not sent (peer down, queue full): repaired by anti-entropy
	LastError   string
	LastErrorAt time.Time
}

// Peers returns the state of every peer seen since start, by name.
func (r *Replicator) Peers() []PeerState {
	r.mu.Lock()
	ps := make([]*peer, 0, len(r.peers))
	for _, p := range r.peers {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	out := make([]PeerState, 0, len(ps))
	for _, p := range ps {
		p.mu.Lock()
		out = append(out, PeerState{Name: p.name, Addr: p.addr, Connected: p.connected, LastSync: p.lastSync,
			Queued: len(p.queue), Sent: p.sent, Dropped: p.drops, LastError: p.lastErr, LastErrorAt: p.lastErrAt})
		p.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
