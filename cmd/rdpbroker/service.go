package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/appliance/metrics"
	"github.com/rdpbroker/rdpbroker/appliance/statuspage"
	"github.com/rdpbroker/rdpbroker/appliance/systemd"
	"github.com/rdpbroker/rdpbroker/appliance/upgrade"
)

// service is one running broker with everything around it: the admin HTTP
// endpoint (metrics, status page, health), systemd notifications and the
// watchdog, and the signals. serve and demo both run one.
type service struct {
	path   string
	log    *slog.Logger
	b      *appliance.Broker
	notify *systemd.Notifier
	beat   *systemd.Heartbeat
	http   *admin.Server
	admin  adminParts   // the admin API, its socket and audit trail (ctl_service.go)
	up     upgradeState // handing over to a new binary, or taking over (upgrade.go)
}

// readyHook is called once the broker serves (demo: to send its clients).
type readyHook func(b *appliance.Broker, log *slog.Logger)

// runService loads path, runs the broker until SIGINT or SIGTERM and stops
// it gracefully: no new client, /-/ready 503, sessions get
// shutdown_timeout, the affinity table is flushed. After an upgrade
// (SIGUSR2, `ctl upgrade`) it returns once the sessions it kept have
// ended. Started by an upgrade, it takes over from the old process.
func runService(ctx context.Context, path string, stderr io.Writer, onReady readyHook) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	signal.Ignore(syscall.SIGUSR2) // until signals() handles it: an early one must not kill the process
	succ, err := joinUpgrade()
	if err != nil {
		return err
	}
	s, err := newService(path, stderr, succ)
	if err != nil {
		if succ != nil {
			succ.Fail(err)
		}
		return err
	}
	// The endpoint and the watchdog outlive Run's context: /-/ready says
	// 503 and the pings go on while sessions drain.
	aux, stopAux := context.WithCancel(context.Background())
	defer stopAux()
	if succ == nil {
		s.startAux(aux) // taking over: once the old process committed
	}
	go s.signals(ctx)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	errc := make(chan error, 1)
	go func() { errc <- s.b.Run(runCtx) }()
	select {
	case <-s.b.Ready():
		if err := s.serving(aux, succ); err != nil {
			stopRun()
			<-errc
			return err
		}
		if onReady != nil {
			onReady(s.b, s.log)
		}
	case err := <-errc:
		if succ != nil {
			succ.Fail(err)
		}
		return err
	}
	select {
	case <-ctx.Done():
		s.notify.Stopping()
	case <-s.up.done:
		s.afterUpgrade(ctx)
	}
	stopRun()
	return <-errc
}

// newService loads the configuration, takes a socket-activated listener
// if systemd passed one (or the listeners of the process it upgrades),
// and builds the broker and its endpoint.
func newService(path string, stderr io.Writer, succ *upgrade.Successor) (*service, error) {
	cfg, err := appliance.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	logger, err := appliance.NewLogger(cfg.Log, stderr)
	if err != nil {
		return nil, err
	}
	s := &service{path: path, log: logger, notify: systemd.New(systemd.Options{Logger: logger}),
		beat: systemd.NewHeartbeat(nil), up: upgradeState{done: make(chan struct{})}}
	act, err := systemd.Listeners("client")
	if err != nil {
		act.Close()
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	if succ != nil { // the old process stops accepting and closes its store now
		if act.Client, err = s.inherit(succ, cfg); err != nil {
			return nil, err
		}
	}
	s.b, err = appliance.New(cfg, appliance.Options{Logger: logger, ConfigPath: path,
		Listener: act.Client, Heartbeat: s.beat})
	if err != nil {
		act.Close()
		s.up.inh.Close()
		return nil, err
	}
	if s.up.inh != nil {
		s.b.ContinueIDs(s.up.inh.NextID)
	}
	if err := s.newAdmin(cfg); err != nil {
		act.Close()
		return nil, err
	}
	if s.http, err = s.newHTTP(cfg.Admin); err != nil {
		return nil, err
	}
	return s, nil
}

// newHTTP builds admin.http's endpoint: metrics, the status page, health.
func (s *service) newHTTP(cfg admin.Config) (*admin.Server, error) {
	lastLoad := func() (bool, time.Time) { l := s.b.ConfigLoad(); return l.LastOK, l.LoadedAt }
	reg := metrics.NewRegistry(metrics.FromBroker(s.b, metrics.BrokerOptions{
		Version: Version(), LastReload: lastLoad}), metrics.Options{})
	page := statuspage.New(statuspage.FromBroker(s.b, statuspage.BrokerOptions{
		Version: Version(), Ready: s.b.ReadyErr, Config: s.configLoad}), statuspage.Options{Logger: s.log})
	return admin.New(cfg, admin.Options{Logger: s.log, Ready: s.b.ReadyErr,
		Metrics: metrics.Handler(reg), Status: page, API: s.httpAPI(cfg)})
}

func (s *service) configLoad() statuspage.ConfigLoad {
	l := s.b.ConfigLoad()
	c := statuspage.ConfigLoad{LoadedAt: l.LoadedAt, LastOK: l.LastOK}
	if l.Err != nil {
		c.LastError = l.Err.Error()
	}
	return c
}

// startAux starts the HTTP endpoint, the watchdog and the STATUS= line.
// The endpoint failing to listen is logged, not fatal: the gateway serves
// without its status page rather than not at all.
func (s *service) startAux(ctx context.Context) {
	s.startEndpoints(ctx) // admin.http and admin.socket (upgrade.go: handed over)
	nctx, stop := context.WithCancel(ctx)
	s.up.stopNotify = stop // an upgrade hands them to the new process
	go s.notify.Watchdog(nctx, func() bool { return s.beat.Alive(systemd.DefaultWedgeAfter) })
	go s.notify.RunStatus(nctx, 10*time.Second, s.statusLine)
}

// statusLine is systemd's STATUS=: sessions, servers up, directory sync.
func (s *service) statusLine() string {
	now := time.Now()
	st := systemd.Status{Sessions: s.b.Counters().Active.Load()}
	for _, srv := range s.b.Router().Table().Servers() {
		st.Servers++
		if srv.Available(now) {
			st.ServersUp++
		}
	}
	if sy := s.b.Syncer(); sy != nil {
		ds := sy.Status()
		st.Directory, st.LastSync, st.SyncError = true, ds.LastAttempt, ds.LastError
	}
	if s.b.ReadyErr() != nil {
		st.Note = s.b.ReadyErr().Error()
	}
	return st.Format(now)
}

// signals: SIGHUP reloads (RELOADING=1 ... READY=1), SIGUSR1 logs the
// state, SIGUSR2 upgrades (upgrade.go).
func (s *service) signals(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reload()
		case <-usr1:
			s.b.LogState()
		case <-usr2:
			go s.upgrade(context.Background()) // logs its outcome
		}
	}
}

// reload re-reads the file; systemd is told around it.
func (s *service) reload() error {
	s.notify.Reloading()
	err := s.b.ReloadFile(s.path)
	if err != nil {
		s.notify.Status("reload refused: " + err.Error())
	}
	s.notify.Ready()
	return err
}
