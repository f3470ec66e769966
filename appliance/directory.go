package appliance

import (
	"context"
	"os"
	"reflect"
	"sync"

	"github.com/rdpbroker/rdpbroker/directory"
)

// dirSync runs the directory sync of the configuration in effect: none,
// or one Syncer publishing into the router. Reloads start, stop or
// reconfigure it.
type dirSync struct {
	b *Broker

	mu     sync.Mutex
	cfg    directory.Config
	syncer *directory.Syncer
	runCtx context.Context // set by run; nil before
	cancel context.CancelFunc
	done   chan struct{}
}

// setup creates the syncer for cfg (if enabled) and publishes its
// persisted snapshot at once: a broker started while AD is unreachable
// routes by the last good membership from its first connection.
func (d *dirSync) setup(cfg Config) {
	d.cfg = cfg.Directory
	if !cfg.Directory.Enabled() {
		return
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		d.b.log.Error("state_dir unusable: the directory snapshot will not be persisted", "err", err)
	}
	d.syncer = directory.NewSyncer(cfg.Directory, directory.Options{
		Logger:   d.b.log,
		Now:      d.b.now,
		StateDir: cfg.StateDir,
		Publish:  func(x *directory.Index) { d.b.router.SetDirectory(x) },
	})
	d.syncer.Start()
}

// run starts the sync loop under ctx (Broker.Run).
func (d *dirSync) run(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.runCtx = ctx
	d.startLocked()
}

func (d *dirSync) startLocked() {
	if d.syncer == nil || d.runCtx == nil {
		return
	}
	ctx, cancel := context.WithCancel(d.runCtx)
	done := make(chan struct{})
	d.cancel, d.done = cancel, done
	s := d.syncer
	go func() { defer close(done); s.Run(ctx) }()
}

// stop ends the sync loop and waits for it.
func (d *dirSync) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
}

func (d *dirSync) stopLocked() {
	if d.cancel != nil {
		d.cancel()
		<-d.done
		d.cancel, d.done = nil, nil
	}
}

// reload applies a new directory configuration: unchanged does nothing;
// changed reconfigures the syncer (and syncs now); enabled or disabled
// starts or stops it (disabled returns routing to static_groups).
func (d *dirSync) reload(cfg Config) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if reflect.DeepEqual(d.cfg, cfg.Directory) {
		return
	}
	switch {
	case d.syncer != nil && cfg.Directory.Enabled():
		d.cfg = cfg.Directory
		d.syncer.SetConfig(cfg.Directory)
	case d.syncer != nil:
		d.stopLocked()
		d.syncer, d.cfg = nil, cfg.Directory
		d.b.router.SetDirectory(nil)
		d.b.log.Info("directory sync disabled: routing by static_groups")
	default:
		d.setup(cfg)
		d.startLocked()
	}
}

// Syncer returns the directory syncer (nil when no directory is
// configured): status and the on-demand sync trigger for the admin API.
func (b *Broker) Syncer() *directory.Syncer {
	b.dir.mu.Lock()
	defer b.dir.mu.Unlock()
	return b.dir.syncer
}
