package rdptest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// Mode is what a Server does with a connection after the handshake.
type Mode uint8

const (
	// Echo (the default) sends every byte back until the client
	// half-closes, then half-closes too.
	Echo Mode = iota
	// Sink reads and discards everything and never writes after the
	// Connection Confirm.
	Sink
	// Hangup closes the connection right after the Connection Confirm.
	Hangup
	// Silent reads the Connection Request and never answers it: an RDP
	// server that hangs (a TCP check would call it healthy).
	Silent
	// Source writes bytes as fast as the client takes them, until the
	// client goes away: a download, for throughput measurements.
	Source
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Echo:
		return "echo"
	case Sink:
		return "sink"
	case Hangup:
		return "hangup"
	case Silent:
		return "silent"
	case Source:
		return "source"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// RequestTimeout bounds how long a Server waits for a Connection Request.
const RequestTimeout = 10 * time.Second

// Config configures a Server. The zero Config is an echoing server on a
// free loopback port.
type Config struct {
	// Addr is the address to listen on; "127.0.0.1:0" when empty.
	Addr string
	// Name identifies the server in logs (and for the caller's bookkeeping).
	Name string
	// Mode is what to do after the handshake; Echo by default.
	Mode Mode
	// ModeFor, when not nil, picks the mode of each connection from its
	// Connection Request (by cookie, say), so one farm serves several
	// workloads; Mode is then unused.
	ModeFor func(rdp.ConnRequest) Mode
	// Selected is the protocol put in the RDP_NEG_RSP; ProtocolSSL when 0
	// (standard RDP security, 0, cannot be selected). A request without
	// RDP_NEG_REQ gets a bare Connection Confirm, as from a real server.
	Selected uint32
	// Failure, when not 0, makes the server answer with RDP_NEG_FAILURE
	// carrying this code (rdp.Failure*) and close, like a server that
	// refuses the requested protocols.
	Failure uint32
	// AcceptDelay, when positive, is how long the server waits after
	// accepting a connection before reading its request: a slow server.
	AcceptDelay time.Duration
	// Logger receives a debug line per connection; nil discards.
	Logger *slog.Logger
}

// Server is a fake RDP server. Its methods are safe for concurrent use.
type Server struct {
	cfg  Config
	ln   net.Listener
	log  *slog.Logger
	done chan struct{} // closed by Close
	wg   sync.WaitGroup
	once sync.Once
	cerr error // the listener's Close error, set once

	mu     sync.Mutex // protects the following fields
	conns  map[net.Conn]struct{}
	seen   []rdp.ConnRequest
	active int
}

// Start listens on cfg.Addr and serves in the background until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Selected == 0 {
		cfg.Selected = rdp.ProtocolSSL
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("rdptest: start %s: %w", cfg.Name, err)
	}
	s := &Server{
		cfg:   cfg,
		ln:    ln,
		log:   log.With("server", cfg.Name, "addr", ln.Addr().String()),
		done:  make(chan struct{}),
		conns: make(map[net.Conn]struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// TB is the part of testing.TB that NewServer needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// NewServer starts a Server for a test, fails the test if it cannot, and
// closes it when the test ends.
func NewServer(tb TB, cfg Config) *Server {
	tb.Helper()
	s, err := Start(cfg)
	if err != nil {
		tb.Fatalf("%v", err)
		return nil // for a TB whose Fatalf returns
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Addr returns the address the server listens on, "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Name returns Config.Name.
func (s *Server) Name() string { return s.cfg.Name }

// Seen returns a copy of the Connection Requests received so far, in order.
func (s *Server) Seen() []rdp.ConnRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rdp.ConnRequest(nil), s.seen...)
}

// Count returns the number of valid Connection Requests received so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// Active returns the number of connections currently open.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Close stops accepting, closes every open connection and waits for the
// server's goroutines to end. It is safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.cerr = s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
	return s.cerr
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.done:
				return
			}
			continue
		}
		backoff = 0
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go s.serveConn(c.(*net.TCPConn))
	}
}

// track registers c, unless the server is closing.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	s.conns[c] = struct{}{}
	s.active++
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	s.active--
}

// serveConn handles one connection: request, confirm, then the mode.
func (s *Server) serveConn(c *net.TCPConn) {
	defer s.wg.Done()
	defer s.untrack(c)
	defer c.Close()
	log := s.log.With("client", c.RemoteAddr().String())
	if d := s.cfg.AcceptDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return
		}
	}
	_, req, err := rdp.ReadConnectionRequest(c, time.Now().Add(RequestTimeout))
	if err != nil {
		log.Debug("bad connection request", "err", err)
		return
	}
	s.mu.Lock()
	s.seen = append(s.seen, req)
	s.mu.Unlock()
	log.Debug("connection request", "cookie", req.Cookie, "token", req.Token.Raw, "protocols", req.RequestedProtocols)
	mode := s.cfg.Mode
	if s.cfg.ModeFor != nil {
		mode = s.cfg.ModeFor(req)
	}
	if mode == Silent {
		io.Copy(io.Discard, c) // until the client or Close ends it
		return
	}
	if _, err := c.Write(s.confirm(req)); err != nil {
		log.Debug("write confirm", "err", err)
		return
	}
	if s.cfg.Failure != 0 {
		return
	}
	switch mode {
	case Echo:
		n, err := io.Copy(c, c) // TCPConn.ReadFrom: splice on Linux
		c.CloseWrite()
		log.Debug("echo done", "bytes", n, "err", err)
	case Sink:
		n, err := sink(c)
		log.Debug("sink done", "bytes", n, "err", err)
	case Source:
		n, err := source(c)
		log.Debug("source done", "bytes", n, "err", err)
	case Hangup:
	}
}

// confirm is the Connection Confirm answering req.
func (s *Server) confirm(req rdp.ConnRequest) []byte {
	switch {
	case s.cfg.Failure != 0:
		return rdp.BuildNegotiationFailure(s.cfg.Failure)
	case !req.HasNegReq:
		return rdp.ConnConfirm{}.Marshal()
	}
	return rdp.BuildConnectionConfirm(s.cfg.Selected)
}
