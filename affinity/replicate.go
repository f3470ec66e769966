package affinity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Sizes of replication messages: direct pushes that fit in one UDP packet
// (memberlist reads 1400 bytes, less encryption and framing) go best
// effort, larger ones over TCP in chunks.
const (
	udpPayload     = 1000
	tcpChunk       = 256 << 10
	maxBroadcasts  = 4096 // queued gossip broadcasts kept at most
	leaveTimeout   = time.Second
	retransmitMult = 3
)

// Replicator keeps a Table in sync with its peers through memberlist.
type Replicator struct {
	t      *Table
	log    *slog.Logger
	pc     PeersConfig
	ml     atomic.Pointer[memberlist.Memberlist]
	queue  *memberlist.TransmitLimitedQueue
	self   string
	stop   chan struct{}
	wg     sync.WaitGroup
	closer sync.Once
	port   *guard // the peer port: members only, connections capped

	mu    sync.Mutex // protects peers
	peers map[string]*peer
}

// StartReplication starts memberlist on pc.Listen, joins pc.Members
// (retrying in the background while none answers: the table keeps working
// alone) and replicates t until Close. The table's node id is the member
// name; pc.Node, if set, must equal it.
func StartReplication(ctx context.Context, t *Table, pc PeersConfig, logger *slog.Logger) (*Replicator, error) {
	if err := pc.Validate(); err != nil {
		return nil, fmt.Errorf("affinity: start replication: %w", err)
	}
	if pc.Node != "" && pc.Node != t.Node() {
		return nil, fmt.Errorf("affinity: start replication: peers.node %q differs from the table's node id %q", pc.Node, t.Node())
	}
	if logger == nil {
		logger = t.log
	}
	key, err := ReadSecret(pc.SecretFile)
	if err != nil {
		return nil, err
	}
	r := &Replicator{t: t, log: logger, pc: pc, self: t.Node(), stop: make(chan struct{}), peers: make(map[string]*peer)}
	mc, err := r.memberlistConfig(key)
	if err != nil {
		return nil, err
	}
	if err := r.listen(ctx, mc); err != nil {
		return nil, err
	}
	r.queue = &memberlist.TransmitLimitedQueue{RetransmitMult: retransmitMult, NumNodes: func() int {
		if ml := r.ml.Load(); ml != nil {
			return ml.NumMembers()
		}
		return 1
	}}
	t.replicate.Store(true)
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.replicate.Store(false)
		r.port.Shutdown()
		return nil, fmt.Errorf("affinity: start replication on %s: %w", pc.Listen, err)
	}
	r.ml.Store(ml)
	r.join(ctx)
	r.wg.Add(2)
	go r.fanout()
	go r.joinLoop()
	return r, nil
}

func (r *Replicator) memberlistConfig(key []byte) (*memberlist.Config, error) {
	mc := memberlist.DefaultLANConfig()
	mc.Name = r.self
	host, port, err := splitHostPort(r.pc.Listen)
	if err != nil {
		return nil, fmt.Errorf("affinity: peers.listen: %w", err)
	}
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = host, port
	if r.pc.Advertise != "" {
		if mc.AdvertiseAddr, mc.AdvertisePort, err = splitHostPort(r.pc.Advertise); err != nil {
			return nil, fmt.Errorf("affinity: peers.advertise: %w", err)
		}
	} else if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		mc.AdvertiseAddr = "" // memberlist picks a private address
	}
	mc.SecretKey = key
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.PushPullInterval = r.pc.PushPullInterval
	mc.GossipInterval = r.pc.GossipInterval
	mc.Delegate = (*delegate)(r)
	mc.Events = (*events)(r)
	mc.Logger = memberlistLogger(r.log)
	return mc, nil
}

// listen opens the peer port (UDP and TCP) behind the guard and makes it
// memberlist's transport.
func (r *Replicator) listen(ctx context.Context, mc *memberlist.Config) error {
	allowed, err := r.peerSources(ctx)
	if err != nil {
		return err
	}
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{mc.BindAddr}, BindPort: mc.BindPort, Logger: mc.Logger})
	if err != nil {
		return fmt.Errorf("affinity: start replication on %s: %w", r.pc.Listen, err)
	}
	if mc.BindPort == 0 {
		mc.BindPort = nt.GetAutoBindPort()
		if r.pc.Advertise == "" {
			mc.AdvertisePort = mc.BindPort
		}
	}
	r.port = newGuard(nt, allowed, r.pc.MaxConnections, r.log, guardSummaryEvery)
	mc.Transport = r.port
	return nil
}

// peerSources returns the test of the sources accepted on the peer port:
// the members' addresses (host names resolved now) and peers.allow; any
// source when neither is configured.
func (r *Replicator) peerSources(ctx context.Context) (func(netip.Addr) bool, error) {
	var nets []netip.Prefix
	for _, a := range r.pc.Allow {
		p, err := parseAllow(a)
		if err != nil {
			return nil, fmt.Errorf("affinity: peers.allow: %q: %w", a, err)
		}
		nets = append(nets, p)
	}
	addrs := map[netip.Addr]bool{}
	for _, m := range r.pc.Members {
		host, _, err := net.SplitHostPort(m)
		if err != nil {
			return nil, fmt.Errorf("affinity: peers.members: %q: %w", m, err)
		}
		if a, err := netip.ParseAddr(host); err == nil {
			addrs[a.Unmap()] = true
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
		cancel()
		if err != nil {
			r.log.Warn("affinity: peers.members: cannot resolve; its traffic is dropped", "member", m, "err", err)
		}
		for _, ip := range ips {
			addrs[ip.Unmap()] = true
		}
	}
	if len(r.pc.Members) == 0 && len(nets) == 0 {
		r.log.Warn("affinity: peer port open to any source: set peers.members or peers.allow")
		return func(netip.Addr) bool { return true }, nil
	}
	return func(a netip.Addr) bool {
		if addrs[a] {
			return true
		}
		for _, p := range nets {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}, nil
}

// PortStats returns what the peer port dropped since start.
func (r *Replicator) PortStats() PortStats {
	return PortStats{DatagramsFromNonMembers: r.port.droppedPackets.Load(),
		ConnectionsFromNonMembers: r.port.droppedConns.Load(), ConnectionsOverCap: r.port.overCap.Load()}
}

func splitHostPort(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", hp)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// join contacts the configured members other than this node.
func (r *Replicator) join(ctx context.Context) {
	var others []string
	for _, m := range r.pc.Members {
		if m != r.pc.Listen && m != r.pc.Advertise {
			others = append(others, m)
		}
	}
	if len(others) == 0 || ctx.Err() != nil {
		return
	}
	n, err := r.ml.Load().Join(others)
	if err != nil {
		r.log.Warn("affinity: join peers", "members", others, "joined", n, "err", err)
		return
	}
	r.log.Info("affinity: joined peers", "members", others, "joined", n)
}

// joinLoop joins the members again while this node is alone.
func (r *Replicator) joinLoop() {
	defer r.wg.Done()
	tick := time.NewTicker(r.pc.JoinRetryInterval)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
			if r.ml.Load().NumMembers() <= 1 {
				r.join(context.Background())
			}
			for _, p := range r.livePeers() {
				if p.takeNeedSync() {
					p.requestSync(nil, 0, true)
				}
			}
		}
	}
}

// fanout sends every local change to every live peer at once, and queues
// it for gossip as well (in case a direct send is lost).
func (r *Replicator) fanout() {
	defer r.wg.Done()
	for {
		select {
		case <-r.stop:
			return
		case <-r.t.outSignal:
		}
		batch := r.t.takeOutbox()
		if len(batch) == 0 {
			continue
		}
		for _, p := range r.livePeers() {
			p.enqueue(batch)
		}
		if r.queue.NumQueued() < maxBroadcasts {
			for _, kr := range batch {
				msgs := encodeEntries([]keyed{kr}, udpPayload)
				if len(msgs) == 1 && len(msgs[0]) <= udpPayload {
					r.queue.QueueBroadcast(&broadcast{name: kr.key, msg: msgs[0]})
				}
			}
		}
	}
}

func (r *Replicator) livePeers() []*peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*peer, 0, len(r.peers))
	for _, p := range r.peers {
		if p.isConnected() {
			out = append(out, p)
		}
	}
	return out
}

// node returns the live memberlist node called name.
func (r *Replicator) node(name string) *memberlist.Node {
	for _, n := range r.ml.Load().Members() {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// peerFor returns the peer called name, creating it.
func (r *Replicator) peerFor(name, addr string) *peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.peers[name]
	if p == nil {
		p = newPeer(r, name)
		r.peers[name] = p
		r.wg.Add(1)
		go p.run()
	}
	if addr != "" {
		p.setAddr(addr)
	}
	return p
}

// handleDigest compares a peer's digests with ours and sends it the
// buckets that differ (and our digests, if it asks for them).
func (r *Replicator) handleDigest(m message) {
	if m.node == "" || m.node == r.self {
		return
	}
	p := r.peerFor(m.node, "")
	p.markSync()
	mine := r.t.digests()
	want := make([]bool, numBuckets)
	diff := 0
	for i, d := range mine {
		if d != m.digests[i] {
			want[i] = true
			diff++
		}
	}
	if diff > 0 || m.reply {
		p.requestSync(want, diff, m.reply)
	}
}

// SyncNow asks every live peer for a full anti-entropy exchange now (also
// done on join and every PushPullInterval with one random peer).
func (r *Replicator) SyncNow() {
	for _, p := range r.livePeers() {
		p.requestSync(nil, 0, true)
	}
}

// Members returns the names of the live cluster members, this node included.
func (r *Replicator) Members() []string {
	var out []string
	for _, n := range r.ml.Load().Members() {
		out = append(out, n.Name)
	}
	return out
}

// Close leaves the cluster and stops replicating; the table keeps working.
func (r *Replicator) Close() error {
	var err error
	r.closer.Do(func() {
		r.t.replicate.Store(false)
		close(r.stop)
		if lerr := r.ml.Load().Leave(leaveTimeout); lerr != nil {
			r.log.Warn("affinity: leave cluster", "err", lerr)
		}
		err = r.ml.Load().Shutdown()
		r.wg.Wait()
		if err != nil {
			err = fmt.Errorf("affinity: stop replication: %w", err)
		}
	})
	return err
}

var errNotMember = errors.New("not a live member")

// broadcast is one entry queued for gossip; a newer change of the same
// key replaces it.
type broadcast struct {
	name string
	msg  []byte
}

var _ memberlist.NamedBroadcast = (*broadcast)(nil)

func (b *broadcast) Invalidates(o memberlist.Broadcast) bool {
	ob, ok := o.(*broadcast)
	return ok && ob.name == b.name
}
func (b *broadcast) Name() string    { return b.name }
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished()       {}
