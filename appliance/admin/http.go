// Package admin is rdpbroker's operator interface: the `admin:` section of
// the configuration and the HTTP endpoint (admin.http) that serves the
// Prometheus metrics, the status page, the health and readiness checks
// and, when asked for, Go's profiler.
//
// Typical use (what `rdpbroker serve` does):
//
//	srv, err := admin.New(cfg.Admin, admin.Options{
//		Logger:  logger,
//		Ready:   broker.ReadyErr,          // nil when ready, else why not
//		Metrics: metrics.Handler(reg),     // appliance/metrics
//		Status:  statuspage.New(src, ...), // appliance/statuspage
//	})
//	if err != nil { ... }
//	go srv.ListenAndServe(ctx) // until ctx is cancelled, then a graceful close
//
// On a loopback address everything is read-only and open. On any other
// address the endpoint must be HTTPS and every request but /-/healthy and
// /-/ready carries the token of token_file (see Config.Validate).
package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of the HTTP endpoint. The clients are a Prometheus or two, a
// load balancer's health check and a few browsers: anything more is a
// misbehaving client, not a reason to run out of descriptors.
const (
	// MaxConns caps concurrent connections; further ones wait in the
	// kernel's accept queue.
	MaxConns = 64
	// ReadHeaderTimeout bounds the request line and headers (and the TLS
	// handshake).
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a whole request.
	ReadTimeout = 10 * time.Second
	// WriteTimeout bounds writing a response, except the profiler's
	// (a CPU profile takes 30 s by default).
	WriteTimeout = 30 * time.Second
	// IdleTimeout closes idle keep-alive connections.
	IdleTimeout = 60 * time.Second
	// ShutdownTimeout is how long a graceful close waits for requests in
	// flight before closing their connections.
	ShutdownTimeout = 5 * time.Second
)

// Options are the server's handlers and dependencies; nil fields get
// defaults.
type Options struct {
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// Ready says whether the broker is ready: nil when it is, else an
	// error saying why not (/-/ready answers 503 with it). nil Ready:
	// always ready. While the server closes, /-/ready is 503 regardless.
	Ready func() error
	// Metrics serves /metrics. nil: 404.
	Metrics http.Handler
	// Status serves the status page at /. nil: a list of the endpoints.
	Status http.Handler
	// API serves /api/v1/... (it receives the full path). nil: 404.
	API http.Handler
}

// Server is the admin HTTP endpoint. Build it with New.
type Server struct {
	cfg      Config
	opts     Options
	log      *slog.Logger
	tls      *tls.Config // nil: plain HTTP
	token    []byte      // nil: no authentication
	maxConns int
	stopping atomic.Bool
	handler  http.Handler
}

// New checks cfg, loads the TLS certificate and the token it names, and
// builds the server. It does not listen yet.
func New(cfg Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, opts: opts, log: opts.Logger, maxConns: MaxConns}
	if cfg.TLS() {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("admin: tls certificate: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if s.token, err = ReadToken(cfg.TokenFile); err != nil {
			return nil, err
		}
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the server's routes (tests, or mounting elsewhere).
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthy", s.healthy)
	mux.HandleFunc("GET /-/ready", s.ready)
	guard := func(h http.Handler) http.Handler {
		if s.token != nil {
			h = requireToken(s.token, h)
		}
		return h
	}
	if s.opts.Metrics != nil {
		mux.Handle("GET /metrics", guard(s.opts.Metrics))
	}
	status := s.opts.Status
	if status == nil {
		status = http.HandlerFunc(s.index)
	}
	mux.Handle("GET /{$}", guard(status))
	if s.opts.API != nil {
		mux.Handle("/api/v1/", guard(s.opts.API))
	}
	if s.cfg.Pprof {
		pp := http.NewServeMux()
		pp.HandleFunc("/debug/pprof/", pprof.Index)
		pp.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		pp.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pp.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pp.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.Handle("/debug/pprof/", guard(pp))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		if d := writeDeadline(r.URL.Path); d > 0 {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		}
		mux.ServeHTTP(w, r)
	})
}

// writeDeadline is WriteTimeout, except for the profiler, whose profile
// and trace last as long as asked (?seconds=).
func writeDeadline(path string) time.Duration {
	if len(path) >= len("/debug/pprof/") && path[:len("/debug/pprof/")] == "/debug/pprof/" {
		return 0
	}
	return WriteTimeout
}

func (s *Server) healthy(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "rdpbroker is healthy.")
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var err error
	switch {
	case s.stopping.Load():
		err = errors.New("stopping")
	case s.opts.Ready != nil:
		err = s.opts.Ready()
	}
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "rdpbroker is not ready: %v\n", err)
		return
	}
	fmt.Fprintln(w, "rdpbroker is ready.")
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "rdpbroker admin endpoint\n\n/metrics\n/-/healthy\n/-/ready")
	if s.cfg.Pprof {
		fmt.Fprintln(w, "/debug/pprof/")
	}
}

// ListenAndServe listens on admin.http and serves until ctx is done (see
// Serve). With admin.http empty it returns nil at once.
func (s *Server) ListenAndServe(ctx context.Context) error {
	if s.cfg.HTTP == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.HTTP)
	if err != nil {
		return fmt.Errorf("admin: listen %s: %w", s.cfg.HTTP, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln (HTTPS when the configuration has a certificate)
// until ctx is done, then closes gracefully: /-/ready turns 503, ln is
// closed, requests in flight get ShutdownTimeout to finish. It returns
// nil after a close asked by ctx, else the error that stopped it. Serve
// closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	addr := ln.Addr().String()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         s.tls,
		// TLS handshake failures and the like: a scanner's noise.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	ln = newLimitListener(ln, s.maxConns)
	errc := make(chan error, 1)
	go func() {
		if s.tls != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	s.log.Info("admin http listening", "addr", addr, "tls", s.tls != nil, "pprof", s.cfg.Pprof)
	select {
	case err := <-errc:
		return fmt.Errorf("admin: serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("admin http: requests still running at close", "err", err)
		srv.Close()
	}
	<-errc
	return nil
}

// limitListener caps the connections accepted and not yet closed at n:
// Accept waits for a free slot.
type limitListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
