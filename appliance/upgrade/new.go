package upgrade

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// Inherited reports whether this process was started by an upgrade.
func Inherited() bool { return os.Getenv(EnvFD) != "" }

// Adopter is what the new process's broker does with a passed session
// (appliance.Broker implements it).
type Adopter interface {
	AdoptSession(record []byte, client, server *net.TCPConn) error
}

// Successor is the new process's side of an upgrade.
type Successor struct {
	ch  *channel
	log *slog.Logger
}

// Join takes the upgrade socket named by RDPBROKER_UPGRADE_FD (and unsets
// it, so that a later upgrade of this process starts clean).
func Join(logger *slog.Logger) (*Successor, error) {
	if logger == nil {
		logger = slog.Default()
	}
	v := os.Getenv(EnvFD)
	os.Unsetenv(EnvFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("upgrade: %s=%q: not a descriptor", EnvFD, v)
	}
	f := os.NewFile(uintptr(fd), "upgrade")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("upgrade: socket %d: %w", fd, err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("upgrade: descriptor %d is a %T, not the upgrade socket", fd, c)
	}
	return &Successor{ch: &channel{c: uc}, log: logger}, nil
}

// SetLogger replaces the logger (once the configuration says how to log).
func (s *Successor) SetLogger(l *slog.Logger) { s.log = l }

// Inheritance is what the old process hands over before the new one
// serves.
type Inheritance struct {
	// Listeners by name ("client", "admin"); the caller takes them.
	Listeners map[string]net.Listener
	// NextID: session ids given so far.
	NextID uint64
}

// Listener returns (and forgets) the inherited listener called name, nil
// if there is none.
func (h *Inheritance) Listener(name string) net.Listener {
	ln := h.Listeners[name]
	delete(h.Listeners, name)
	return ln
}

// Close closes the listeners not taken (nil: nothing).
func (h *Inheritance) Close() {
	if h == nil {
		return
	}
	for _, ln := range h.Listeners {
		ln.Close()
	}
}

// handoverWait bounds the wait for the listeners (the old process stops
// accepting and flushes its store first).
const handoverWait = time.Minute

// Hello tells the old process that the configuration is loaded and valid,
// and returns what it hands over. From then on the old process no longer
// accepts and its affinity store is closed: open it now.
func (s *Successor) Hello(version string) (*Inheritance, error) {
	if err := s.ch.send(message{Type: msgHello, PID: os.Getpid(), Version: version}); err != nil {
		return nil, err
	}
	m, files, err := s.ch.recv(time.Now().Add(handoverWait))
	if err != nil {
		return nil, err
	}
	defer closeAll(files)
	if m.Type != msgHandover || len(files) != len(m.Listeners) {
		return nil, fmt.Errorf("upgrade: expected the listeners, got %q with %d descriptors", m.Type, len(files))
	}
	h := &Inheritance{Listeners: map[string]net.Listener{}, NextID: m.NextID}
	for i, name := range m.Listeners {
		ln, err := net.FileListener(files[i])
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("upgrade: inherited listener %q: %w", name, err)
		}
		h.Listeners[name] = ln
	}
	return h, nil
}

// Fail tells the old process why this one gives up (it then keeps
// serving), and closes the socket.
func (s *Successor) Fail(err error) {
	s.ch.send(message{Type: msgFail, Error: err.Error()})
	s.ch.c.Close()
}

// Ready tells the old process that this one serves, and waits for its
// commit. A closed socket counts as a commit: the old process is gone and
// this one is all there is.
func (s *Successor) Ready() error {
	if err := s.ch.send(message{Type: msgReady, PID: os.Getpid()}); err != nil {
		return err
	}
	m, files, err := s.ch.recv(time.Time{})
	closeAll(files)
	switch {
	case err != nil && errors.Is(err, errClosed):
		s.log.Warn("upgrade: the old process went away before its commit; serving")
		return nil
	case err != nil:
		return err
	case m.Type != msgCommit:
		return fmt.Errorf("upgrade: expected the commit, got %q", m.Type)
	}
	return nil
}

// Adopt receives sessions until the old process is done (or gone), and
// gives each to a; it returns how many were adopted.
func (s *Successor) Adopt(a Adopter) int {
	defer s.ch.c.Close()
	adopted := 0
	for {
		m, files, err := s.ch.recv(time.Time{})
		if err != nil {
			if !errors.Is(err, errClosed) {
				s.log.Error("upgrade: receiving sessions", "err", err)
			}
			return adopted
		}
		switch m.Type {
		case msgDone:
			s.log.Info("upgrade: sessions taken over", "adopted", adopted, "kept_by_old_process", m.Kept)
			return adopted
		case msgSession:
			reply := message{Type: msgAdopted, ID: m.ID}
			if err := adopt(a, m, files); err != nil {
				reply = message{Type: msgRefused, ID: m.ID, Error: err.Error()}
				s.log.Error("upgrade: session not adopted; it stays with the old process", "id", m.ID, "err", err)
			} else {
				adopted++
			}
			if err := s.ch.send(reply); err != nil {
				s.log.Error("upgrade: answering the old process", "err", err)
				return adopted
			}
		default:
			closeAll(files)
		}
	}
}

// adopt turns the two descriptors into connections and hands them to a.
// On failure nothing is left open here (the old process resumes).
func adopt(a Adopter, m message, files []*os.File) error {
	if len(files) != 2 {
		closeAll(files)
		return fmt.Errorf("upgrade: session %d: %d descriptors, want 2", m.ID, len(files))
	}
	client, err := tcpConn(files[0])
	if err != nil {
		files[1].Close()
		return fmt.Errorf("upgrade: session %d: client: %w", m.ID, err)
	}
	server, err := tcpConn(files[1])
	if err != nil {
		client.Close()
		return fmt.Errorf("upgrade: session %d: server: %w", m.ID, err)
	}
	if err := a.AdoptSession(m.Record, client, server); err != nil {
		client.Close()
		server.Close()
		return err
	}
	return nil
}
