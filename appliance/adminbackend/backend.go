// Package adminbackend implements the admin API's Backend (appliance/admin)
// over a running *appliance.Broker: status, servers and their admin
// overrides, sessions, the affinity table, route explain, directory sync,
// reload and upgrade. It lives apart so that appliance/admin does not
// import appliance (appliance/admin is configuration and HTTP; this
// package is the adapter; cmd/rdpbroker wires the two).
//
// Typical use (what `rdpbroker serve` does):
//
//	be := adminbackend.New(broker, adminbackend.Options{Version: v, Reload: s.reload})
//	go be.Run(ctx) // keeps the router's overrides in step with the table
//	api := admin.NewAPI(be, admin.APIOptions{Logger: log, Audit: audit})
//
// Admin overrides (drain, maint, weight) are cluster-wide: ChangeServer
// writes them to the affinity table (affinity.Table.SetOverride, replicated
// to every peer and persisted in state_dir) and puts them in force on the
// local router at once; Run polls the table every PollInterval and puts in
// force what peers wrote, and New does it once before the broker serves,
// so a restarted broker keeps its overrides from its first connection.
package adminbackend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/routing"
)

// DefaultPollInterval is how often Run reads the overrides in the table:
// a drain set on a peer is in force here within it plus the replication
// delay.
const DefaultPollInterval = 200 * time.Millisecond

// Options are the backend's dependencies; zero values get defaults.
type Options struct {
	// Logger receives override changes. Default slog.Default().
	Logger *slog.Logger
	// Version is reported by Status.
	Version string
	// Started is when the broker started. Default: when New ran.
	Started time.Time
	// Reload reloads the configuration (the service's SIGHUP path, which
	// also tells systemd). Default: Broker.ReloadFile of the loaded path.
	Reload func() error
	// Upgrade hands the broker over to a new binary. nil: not supported.
	Upgrade func(context.Context) error
	// PollInterval is DefaultPollInterval when 0.
	PollInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Backend is admin.Backend over a Broker.
type Backend struct {
	b    *appliance.Broker
	opts Options
	log  *slog.Logger

	mu      sync.Mutex                  // serialises override changes; protects applied
	applied map[string]routing.Override // what the table said when last put in force
}

var _ admin.Backend = (*Backend)(nil)

// New returns the backend of b and puts the table's overrides in force on
// its router now.
func New(b *appliance.Broker, opts Options) *Backend {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Started.IsZero() {
		opts.Started = opts.Now()
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	x := &Backend{b: b, opts: opts, log: opts.Logger, applied: make(map[string]routing.Override)}
	b.Router().OnOverrideEnded(x.overrideEnded)
	x.syncOverrides()
	return x
}

// Run keeps the router's overrides in step with the table until ctx is
// done.
func (x *Backend) Run(ctx context.Context) {
	t := time.NewTicker(x.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			x.syncOverrides()
		}
	}
}

// Status implements admin.StatusBackend.
func (x *Backend) Status() admin.Status {
	b := x.b
	c := b.Counters()
	load := b.ConfigLoad()
	st := admin.Status{
		Version: x.opts.Version, PID: os.Getpid(), Started: x.opts.Started, Ready: b.ReadyErr() == nil,
		ConfigFile: load.Path, ConfigLoadedAt: load.LoadedAt, ConfigLastOK: load.LastOK,
		Sessions: c.Active.Load(), Pending: b.Pending(), Accepted: c.Accepted.Load(), Rejects: c.RejectCounts(),
		Peers: []admin.Peer{},
	}
	if err := b.ReadyErr(); err != nil {
		st.NotReady = err.Error()
	}
	if load.Err != nil {
		st.ConfigError = load.Err.Error()
	}
	if t := b.Affinity(); t != nil {
		s := t.Stats()
		st.Affinity = &admin.AffinityStatus{Entries: s.Entries, PendingWrites: s.PendingWrites, LastFlushErr: s.LastFlushError}
	}
	if r := b.Replication(); r != nil {
		for _, p := range r.Peers() {
			st.Peers = append(st.Peers, admin.Peer{Name: p.Name, Addr: p.Addr, Connected: p.Connected,
				LastContact: p.LastSync, LastError: p.LastError})
		}
	}
	if sy := b.Syncer(); sy != nil {
		d := directoryOf(sy.Status())
		st.Directory = &d
	}
	return st
}

// Sessions implements admin.SessionBackend.
func (x *Backend) Sessions() []admin.Session {
	in := x.b.Sessions()
	out := make([]admin.Session, 0, len(in))
	for _, s := range in {
		out = append(out, sessionOf(s))
	}
	return out
}

// Kill implements admin.SessionBackend.
func (x *Backend) Kill(id uint64) (admin.Session, bool) {
	s, ok := x.b.Kill(id)
	return sessionOf(s), ok
}

// KillLogin implements admin.SessionBackend.
func (x *Backend) KillLogin(login string) []admin.Session {
	var out []admin.Session
	for _, s := range x.b.KillLogin(login) {
		out = append(out, sessionOf(s))
	}
	return out
}

func sessionOf(s appliance.SessionInfo) admin.Session {
	return admin.Session{ID: s.ID, Client: s.Client, Login: s.Login, Pool: s.Pool, Server: s.Server,
		ServerAddr: s.ServerAddr, Since: s.Since, BytesIn: s.BytesIn, BytesOut: s.BytesOut,
		CorrelationID: s.CorrelationID, UDP: s.UDP}
}

// SyncNow implements admin.OpsBackend: one directory sync, waited for.
func (x *Backend) SyncNow(ctx context.Context) (admin.Directory, error) {
	sy := x.b.Syncer()
	if sy == nil {
		return admin.Directory{}, fmt.Errorf("%w: no directory configured (directory.urls)", admin.ErrNotSupported)
	}
	err := sy.Sync(ctx, false)
	return directoryOf(sy.Status()), err
}

// Reload implements admin.OpsBackend.
func (x *Backend) Reload() error {
	if x.opts.Reload != nil {
		return x.opts.Reload()
	}
	path := x.b.ConfigLoad().Path
	if path == "" {
		return fmt.Errorf("%w: the broker was not started from a file", admin.ErrNotSupported)
	}
	return x.b.ReloadFile(path)
}

// Upgrade implements admin.OpsBackend.
func (x *Backend) Upgrade(ctx context.Context) error {
	if x.opts.Upgrade == nil {
		return fmt.Errorf("%w: this broker offers no upgrade", admin.ErrNotSupported)
	}
	if err := x.opts.Upgrade(ctx); err != nil {
		return fmt.Errorf("%w: upgrade: %w", admin.ErrRefused, err)
	}
	return nil
}

// invalid wraps a routing refusal of an override as admin.ErrInvalid (or
// ErrNotFound for an unknown server).
func invalid(err error) error {
	if errors.Is(err, routing.ErrUnknownServer) {
		return fmt.Errorf("%w: %w", admin.ErrNotFound, err)
	}
	return fmt.Errorf("%w: %w", admin.ErrInvalid, err)
}
