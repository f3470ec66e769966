package main

import (
	"context"
	"errors"
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
}

// readyHook is called once the broker serves (demo: to send its clients).
type readyHook func(b *appliance.Broker, log *slog.Logger)

// runService loads path, runs the broker until SIGINT or SIGTERM and stops
// it gracefully.
func runService(ctx context.Context, path string, stderr io.Writer, onReady readyHook) error {
	s, err := newService(path, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The endpoint and the watchdog outlive Run's context: /-/ready says
	// 503 and the pings go on while sessions drain.
	aux, stopAux := context.WithCancel(context.Background())
	defer stopAux()
	s.startAux(aux)
	go s.signals(ctx)
	errc := make(chan error, 1)
	go func() { errc <- s.b.Run(ctx) }()
	select {
	case <-s.b.Ready():
		s.notify.Ready()
		if onReady != nil {
			onReady(s.b, s.log)
		}
	case err := <-errc:
		return err
	}
	<-ctx.Done()
	s.notify.Stopping()
	return <-errc
}

// newService loads the configuration, takes a socket-activated listener
// if systemd passed one, and builds the broker and its endpoint.
func newService(path string, stderr io.Writer) (*service, error) {
	cfg, err := appliance.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	logger, err := appliance.NewLogger(cfg.Log, stderr)
	if err != nil {
		return nil, err
	}
	s := &service{path: path, log: logger, notify: systemd.New(systemd.Options{Logger: logger}),
		beat: systemd.NewHeartbeat(nil)}
	act, err := systemd.Listeners("client")
	if err != nil {
		act.Close()
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	s.b, err = appliance.New(cfg, appliance.Options{Logger: logger, ConfigPath: path,
		Listener: act.Client, Heartbeat: s.beat})
	if err != nil {
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
		Metrics: metrics.Handler(reg), Status: page})
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
	go func() {
		if err := s.http.ListenAndServe(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("admin HTTP endpoint not serving", "err", err)
		}
	}()
	go s.notify.Watchdog(ctx, func() bool { return s.beat.Alive(systemd.DefaultWedgeAfter) })
	go s.notify.RunStatus(ctx, 10*time.Second, s.statusLine)
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

// signals: SIGHUP reloads (RELOADING=1 ... READY=1), SIGUSR1 logs the state.
func (s *service) signals(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reload()
		case <-usr1:
			s.b.LogState()
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
