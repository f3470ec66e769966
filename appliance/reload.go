package appliance

import (
	"errors"
	"fmt"
	"time"
)

// ConfigLoad is how the configuration was last loaded: at start or by a
// reload (SIGHUP, `ctl reload`).
type ConfigLoad struct {
	Path     string
	LoadedAt time.Time // the last successful load
	LastOK   bool      // the last attempt succeeded
	LastAt   time.Time // the last attempt
	Err      error     // the last attempt's error, when it failed
}

// ConfigLoad returns how the configuration was last loaded.
func (b *Broker) ConfigLoad() ConfigLoad {
	b.loadMu.Lock()
	defer b.loadMu.Unlock()
	return b.load
}

func (b *Broker) recordLoad(path string, err error) {
	now := b.now()
	b.loadMu.Lock()
	defer b.loadMu.Unlock()
	b.load.Path, b.load.LastAt, b.load.LastOK, b.load.Err = path, now, err == nil, err
	if err == nil {
		b.load.LoadedAt = now
	}
}

// ReloadFile loads path and applies it (Reload). A file with any problem is
// refused as a whole and the running configuration kept; the error lists
// every problem. The outcome is recorded (ConfigLoad) and logged.
func (b *Broker) ReloadFile(path string) error {
	cfg, err := LoadConfig(path)
	if err == nil {
		err = b.Reload(cfg)
	}
	b.recordLoad(path, err)
	if err != nil {
		b.log.Error("reload refused; keeping the running configuration", "path", path, "err", err)
		return err
	}
	b.log.Info("configuration reloaded", "path", path)
	return nil
}

// Reload applies a new, validated configuration: routing state is swapped
// atomically, sessions in flight are untouched. On error nothing changes.
func (b *Broker) Reload(cfg Config) error {
	old := b.Config()
	if err := b.router.Apply(cfg.RoutingConfig()); err != nil {
		return fmt.Errorf("appliance: reload: %w", err)
	}
	if cfg.Listen != old.Listen {
		b.log.Warn("listen address change needs a restart; still listening on the old one",
			"old", old.Listen, "new", cfg.Listen)
		cfg.Listen = old.Listen
	}
	if cfg.Admin != old.Admin {
		b.log.Warn("admin settings apply after a restart; keeping the running ones")
		cfg.Admin = old.Admin
	}
	b.reloadAffinity(old, cfg)
	b.setConfig(cfg)
	if cfg.MaxSessions != old.MaxSessions {
		b.logSessionLimit(cfg)
	}
	b.dir.reload(cfg)
	return nil
}

// Errors of ReadyErr.
var (
	ErrStarting = errors.New("starting: not listening yet")
	ErrStopping = errors.New("stopping")
)

// ReadyErr is nil while the broker serves: its listener is open, the
// affinity table loaded and the first routing table built (all done before
// Ready is closed), and it is not stopping. Otherwise it says why not
// (/-/ready, the status page, systemd).
func (b *Broker) ReadyErr() error {
	if b.stopping.Load() {
		return ErrStopping
	}
	select {
	case <-b.ready:
		return nil
	default:
		return ErrStarting
	}
}
