package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdpbroker/rdpbroker/affinity"
	"github.com/rdpbroker/rdpbroker/appliance/relay"
	"github.com/rdpbroker/rdpbroker/routing"
)

// Options are the broker's injected dependencies; zero values get defaults.
type Options struct {
	// Logger receives operational logs and the per-session lines. Default:
	// a text logger on stderr at info level.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Listener, when set, is used instead of listening on Config.Listen
	// (tests; socket handover during upgrades).
	Listener net.Listener
	// Directory resolves logins to identities and groups. Default: the
	// static_groups of the configuration.
	Directory routing.Directory
	// Affinity overrides the affinity table (tests). Default: the table
	// persisted in state_dir/affinity.db, replicated to the peers.
	Affinity routing.Affinity
	// Probe overrides the health probe (tests). Default: routing's.
	Probe func(ctx context.Context, check, addr string) error
	// ConfigPath is the file cfg came from, for ConfigLoad. Default "".
	ConfigPath string
	// Heartbeat is told when the accept loop enters and leaves Accept, and
	// when it stops on purpose (systemd's watchdog: a loop stuck outside
	// Accept is wedged). Default: none.
	Heartbeat Heartbeat
}

// Heartbeat follows the accept loop (systemd.Heartbeat implements it).
type Heartbeat interface {
	Enter()
	Leave()
	Stop()
}

type noHeartbeat struct{}

func (noHeartbeat) Enter() {}
func (noHeartbeat) Leave() {}
func (noHeartbeat) Stop()  {}

// Broker is one running rdpbroker: a listener, a router, and the sessions
// it proxies.
type Broker struct {
	log      *slog.Logger
	now      func() time.Time
	cfg      atomic.Pointer[Config]
	router   *routing.Router
	counters Counters
	dialer   atomic.Pointer[relay.Dialer]

	mu          sync.Mutex // protects following fields
	ln          net.Listener
	ownListener bool // ln was made by Run (without keepalive: handle sets it late)
	sessions    map[uint64]*session
	closing     bool

	wg         sync.WaitGroup // one per handled connection
	nextID     atomic.Uint64
	pending    atomic.Int64 // clients whose first packet is being read
	ready      chan struct{}
	handlers   *handlers        // the goroutines serving clients (handle)
	keepalives relay.Keepalives // keep-alive settings due on sessions' connections
	dir        dirSync          // the directory sync (none without directory.urls)

	aff  atomic.Pointer[affinity.Table] // the persisted table (nil with Options.Affinity, and once closed)
	repl *affinity.Replicator           // its replication (nil without peers); under mu

	gate   acceptGate      // an upgrade pauses the accept loop (accept.go)
	runCtx context.Context // Run's context for what an upgrade restarts; under mu

	stopping atomic.Bool // set when Run's context is done (ReadyErr)
	loadMu   sync.Mutex  // protects load
	load     ConfigLoad

	beat Heartbeat

	udp     udpService  // the RDP-UDP relay (udp.go)
	learned learnCounts // no_cookie: learned outcomes (learncount.go)

	nofile uint64 // descriptor limit at start
	fdCap  int    // sessions that limit leaves room for (fdlimit.go; 0 = no cap)
}

// New builds a broker for a validated configuration. It does not listen yet.
func New(cfg Config, opts Options) (*Broker, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Broker{
		log:      opts.Logger,
		now:      opts.Now,
		ln:       opts.Listener,
		sessions: make(map[uint64]*session),
		ready:    make(chan struct{}),
		nofile:   nofileLimit(),
		beat:     opts.Heartbeat,
	}
	b.handlers = newHandlers(b.handle, handlerIdle)
	if b.beat == nil {
		b.beat = noHeartbeat{}
	}
	b.fdCap = fdSessionCap(b.nofile)
	aff := opts.Affinity
	if aff == nil {
		t, err := b.openAffinity(cfg)
		if err != nil {
			return nil, err
		}
		b.aff.Store(t)
		aff = liveAffinity{&b.aff} // an upgrade that fails swaps the table
	}
	b.router = routing.NewRouter(routing.RouterOptions{
		Logger:    opts.Logger,
		Now:       opts.Now,
		Directory: opts.Directory,
		Affinity:  aff,
		Probe:     opts.Probe,
	})
	if err := b.router.Apply(cfg.RoutingConfig()); err != nil {
		b.closeAffinity()
		return nil, fmt.Errorf("appliance: routing: %w", err)
	}
	b.setConfig(cfg)
	b.recordLoad(opts.ConfigPath, nil)
	b.logSessionLimit(cfg)
	b.dir.b = b
	if opts.Directory == nil {
		b.dir.setup(cfg)
	}
	return b, nil
}

func (b *Broker) setConfig(cfg Config) {
	c := cfg
	b.cfg.Store(&c)
	b.dialer.Store(relay.NewDialer(cfg.Relay))
}

// Config returns the configuration in effect.
func (b *Broker) Config() Config { return *b.cfg.Load() }

// Router returns the broker's router (status, admin, route explain).
func (b *Broker) Router() *routing.Router { return b.router }

// Counters returns the broker's counters.
func (b *Broker) Counters() *Counters { return &b.counters }

// Pending is the number of clients whose first packet is being read.
func (b *Broker) Pending() int64 { return b.pending.Load() }

// Ready is closed once the broker listens.
func (b *Broker) Ready() <-chan struct{} { return b.ready }

// Addr is the listening address (nil before Ready).
func (b *Broker) Addr() net.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln == nil {
		return nil
	}
	return b.ln.Addr()
}

// Run listens (unless a listener was given), runs health checks and serves
// clients until ctx is cancelled; then it stops accepting, lets sessions run
// for shutdown_timeout and closes the rest.
func (b *Broker) Run(ctx context.Context) error {
	b.mu.Lock()
	if b.ln == nil {
		// No keepalive from the listener: the relay stage sets it
		// relay.KeepaliveDelay after the connect, so the many short connections (probes,
		// refusals, scanners) never pay its four setsockopt calls.
		cfg := b.Config()
		lc := net.ListenConfig{KeepAlive: -1}
		ln, err := lc.Listen(context.Background(), "tcp", cfg.Listen)
		if err != nil {
			b.mu.Unlock()
			return fmt.Errorf("appliance: listen %s: %w", b.Config().Listen, err)
		}
		b.ln = ln
		b.ownListener = true
	}
	ln := b.ln
	b.mu.Unlock()
	stopUDP, err := b.startUDP(ln.Addr())
	if err != nil {
		b.router.Close()
		b.closeAffinity()
		return err
	}

	rctx, stopRouter := context.WithCancel(ctx)
	b.mu.Lock()
	b.runCtx = rctx
	b.mu.Unlock()
	routerDone := make(chan struct{})
	go func() { defer close(routerDone); b.router.Run(rctx) }()
	if err := b.startReplication(rctx, b.Config()); err != nil {
		stopUDP()
		stopRouter()
		<-routerDone
		b.router.Close()
		b.closeAffinity()
		return err
	}
	b.dir.run(rctx)
	b.log.Info("listening", "addr", ln.Addr().String())
	close(b.ready)

	acceptDone := make(chan error, 1)
	go func() { acceptDone <- b.acceptLoop(ctx, ln) }()
	select {
	case <-ctx.Done():
	case err = <-acceptDone:
	}
	b.stopping.Store(true)
	b.shutdown(ln)
	stopUDP() // after the sessions: their flows end with them
	b.dir.stop()
	stopRouter()
	<-routerDone
	b.router.Close()
	b.closeAffinity()
	return err
}

func (b *Broker) acceptLoop(ctx context.Context, ln net.Listener) error {
	var backoff time.Duration
	defer b.beat.Stop() // a loop that returns has ended on purpose
	for {
		b.beat.Enter()
		c, err := ln.Accept()
		b.beat.Leave()
		if err != nil {
			if b.gate.hold(ctx, b.beat) { // paused by an upgrade, then resumed
				continue
			}
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			// EMFILE and friends: back off instead of spinning.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			b.log.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-ctx.Done():
				return nil
			}
		}
		backoff = 0
		b.counters.Accepted.Add(1)
		tc, ok := c.(*net.TCPConn)
		if !ok {
			c.Close()
			continue
		}
		b.wg.Add(1)
		b.handlers.dispatch(ctx, tc)
	}
}

// shutdown stops accepting, waits up to shutdown_timeout for sessions to
// end by themselves, then closes what is left and waits for the handlers.
func (b *Broker) shutdown(ln net.Listener) {
	ln.Close()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	timeout := b.Config().ShutdownTimeout
	if n := b.counters.Active.Load(); n > 0 {
		b.log.Info("stopping: waiting for sessions", "active", n, "timeout", timeout)
	}
	select {
	case <-done:
		return
	case <-time.After(timeout):
	}
	b.closeSessions()
	<-done
}
