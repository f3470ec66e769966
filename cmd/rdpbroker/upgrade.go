package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/appliance/upgrade"
)

// upgradeState is the service's side of an upgrade that keeps every
// session (appliance/upgrade): as the old process, what it hands over and
// how it steps aside; as the new one, what it inherited.
type upgradeState struct {
	mu sync.Mutex // one upgrade at a time

	inh        *upgrade.Inheritance // listeners from the old process (nil: not upgraded)
	httpLn     net.Listener         // admin.http's listener (nil: none)
	sockLn     *net.UnixListener    // admin.socket's listener (nil: none)
	stopEnd    context.CancelFunc   // closes both endpoints gracefully
	endDone    sync.WaitGroup       // the endpoints have closed
	stopNotify context.CancelFunc   // stops the watchdog pings and STATUS= lines
	done       chan struct{}        // closed once this process has handed over
}

// Listener names in the handover.
const (
	lnClient = "client"
	lnHTTP   = "admin-http"
	lnSocket = "admin-socket"
)

// joinUpgrade returns the upgrade socket when an upgrade started this
// process, else nil.
func joinUpgrade() (*upgrade.Successor, error) {
	if !upgrade.Inherited() {
		return nil, nil
	}
	return upgrade.Join(nil)
}

// inherit says hello to the old process (the configuration is loaded and
// valid) and takes its listeners; the client listener is returned. A
// listener whose address the new configuration changed is closed: the
// new address is listened on instead.
func (s *service) inherit(succ *upgrade.Successor, cfg appliance.Config) (net.Listener, error) {
	succ.SetLogger(s.log)
	inh, err := succ.Hello(Version())
	if err != nil {
		return nil, err
	}
	s.up.inh = inh
	s.log.Info("upgrade: taking over", "pid", os.Getpid(), "version", Version(), "listeners", len(inh.Listeners))
	return s.inherited(lnClient, cfg.Listen), nil
}

// inherited takes the listener called name if it listens on want.
func (s *service) inherited(name, want string) net.Listener {
	if s.up.inh == nil {
		return nil
	}
	ln := s.up.inh.Listener(name)
	if ln == nil {
		return nil
	}
	if a, err := net.ResolveTCPAddr("tcp", want); err == nil && ln.Addr().String() == a.String() {
		return ln
	}
	if ln.Addr().String() == want { // a unix socket's path
		return ln
	}
	s.log.Warn("upgrade: address changed; listening on the new one", "listener", name, "old", ln.Addr().String(), "new", want)
	ln.Close()
	return nil
}

// serving follows the broker's readiness: READY=1, or, taking over from an
// old process, ready -> its commit -> MAINPID + READY=1, then the admin
// endpoints and the sessions.
func (s *service) serving(aux context.Context, succ *upgrade.Successor) error {
	if succ == nil {
		s.notify.Ready()
		return nil
	}
	if err := succ.Ready(); err != nil {
		return fmt.Errorf("upgrade: taking over: %w", err)
	}
	s.notify.TakeOver()
	s.startAux(aux)
	s.up.inh.Close() // what the new configuration listens on elsewhere
	s.log.Info("upgrade: serving", "pid", os.Getpid(), "version", Version())
	go succ.Adopt(s.b)
	return nil
}

// startEndpoints serves admin.http and admin.socket (on the listeners of
// the old process when upgraded) until ctx is done or an upgrade stops
// them. One that cannot listen is logged, not fatal: the gateway serves
// without its status page rather than not at all.
func (s *service) startEndpoints(ctx context.Context) {
	ctx, s.up.stopEnd = context.WithCancel(ctx)
	cfg := s.b.Config().Admin
	if cfg.HTTP != "" {
		ln := s.inherited(lnHTTP, cfg.HTTP)
		if ln == nil {
			var err error
			if ln, err = net.Listen("tcp", cfg.HTTP); err != nil {
				s.log.Error("admin HTTP endpoint not serving", "err", fmt.Errorf("admin: listen %s: %w", cfg.HTTP, err))
			}
		}
		if ln != nil {
			s.up.httpLn = ln
			s.serveEndpoint("admin HTTP endpoint", func() error { return s.http.Serve(ctx, ln) })
		}
	}
	go s.admin.backend.Run(ctx)
	if cfg.Socket != "" {
		ln := s.inherited(lnSocket, cfg.Socket)
		if ln == nil {
			var err error
			if ln, err = s.admin.socket.Listen(); err != nil {
				s.log.Error("admin socket not serving", "err", err)
			}
		}
		if ul, ok := ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(true) // inherited ones do not by default
			s.up.sockLn = ul
			s.serveEndpoint("admin socket", func() error { return s.admin.socket.Serve(ctx, ul) })
		}
	}
}

func (s *service) serveEndpoint(what string, serve func() error) {
	s.up.endDone.Add(1)
	go func() {
		defer s.up.endDone.Done()
		if err := serve(); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error(what+" not serving", "err", err)
		}
	}()
}

// upgrade starts the binary at this binary's path and hands it the
// listeners, the affinity store and every session (appliance/upgrade). It
// returns nil once the new process serves and has taken the sessions it
// could: this process then stops its endpoints and exits when the
// sessions it kept have ended. On error nothing changed: this process
// serves on. SIGUSR2 calls it; the admin API's Upgrade hook
// (`ctl upgrade`, POST /api/v1/upgrade) is this method.
func (s *service) upgrade(ctx context.Context) error {
	if !s.up.mu.TryLock() {
		return errors.New("upgrade: another upgrade is under way")
	}
	defer s.up.mu.Unlock()
	select {
	case <-s.up.done:
		return errors.New("upgrade: this process has handed over already")
	default:
	}
	files, err := s.listenerFiles()
	defer func() {
		for _, f := range files {
			f.File.Close()
		}
	}()
	if err != nil {
		s.log.Error("upgrade failed; this process serves on", "err", err)
		return err
	}
	s.log.Info("upgrade: starting", "version", Version())
	rep, err := upgrade.Start(ctx, s.b, upgrade.Options{Logger: s.log, Env: s.notify.UpgradeEnv(), Listeners: files})
	if err != nil {
		s.log.Error("upgrade failed; this process serves on", "err", err)
		return err
	}
	s.log.Info("upgrade done", "new_pid", rep.PID, "new_version", rep.Version, "handed_over", rep.HandedOver,
		"kept", rep.Kept, "took", rep.Took, "sessions_took", rep.Sessions)
	s.stepAside()
	return nil
}

// listenerFiles duplicates the listening sockets to hand over.
func (s *service) listenerFiles() ([]upgrade.NamedFile, error) {
	f, err := s.b.ListenerFile()
	if err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	files := []upgrade.NamedFile{{Name: lnClient, File: f}}
	for _, l := range []struct {
		name string
		ln   net.Listener
	}{{lnHTTP, s.up.httpLn}, {lnSocket, s.up.sockLn}} {
		fl, ok := l.ln.(interface{ File() (*os.File, error) })
		if l.ln == nil || !ok || fl == nil {
			continue
		}
		if f, err := fl.File(); err == nil {
			files = append(files, upgrade.NamedFile{Name: l.name, File: f})
		} else {
			s.log.Warn("upgrade: not handing over a listener; the new process listens anew", "listener", l.name, "err", err)
		}
	}
	return files, nil
}

// stepAside: the new process serves. The admin endpoints close here
// (requests in flight, the `ctl upgrade` that asked, finish), systemd
// hears from the new process only, and runService returns once the
// sessions kept here have ended.
func (s *service) stepAside() {
	if s.up.stopNotify != nil {
		s.up.stopNotify()
	}
	if s.up.sockLn != nil {
		s.up.sockLn.SetUnlinkOnClose(false) // the path is the new process's now
	}
	if s.up.stopEnd != nil {
		s.up.stopEnd()
	}
	close(s.up.done)
}

// afterUpgrade waits for the sessions kept here to end (or ctx: then
// Run's shutdown gives them shutdown_timeout), and for the endpoints to
// have answered their last requests.
func (s *service) afterUpgrade(ctx context.Context) {
	if n := s.b.Counters().Active.Load(); n > 0 {
		s.log.Info("upgrade: waiting for the sessions kept by this process", "active", n)
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for s.b.Counters().Active.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	done := make(chan struct{})
	go func() { s.up.endDone.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(admin.ShutdownTimeout + time.Second):
	}
	s.log.Info("upgrade: old process exiting", "pid", os.Getpid())
}
