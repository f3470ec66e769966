package systemd

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/coreos/go-systemd/v22/activation"
)

// NamedListener is a stream socket passed by systemd, with its
// FileDescriptorName= (systemd's default: the .socket unit's name; without
// LISTEN_FDNAMES, "LISTEN_FD_<n>").
type NamedListener struct {
	Name string
	net.Listener
}

// NamedPacketConn is a datagram socket passed by systemd, with its name.
type NamedPacketConn struct {
	Name string
	net.PacketConn
}

// Activated holds the sockets systemd passed to the process (socket
// activation). The zero value means "not socket-activated".
type Activated struct {
	// Client is the client listener: the stream socket named as asked,
	// else the first stream socket; nil when systemd passed none.
	Client net.Listener
	// Listeners are the other stream sockets (admin, peers), in order.
	Listeners []NamedListener
	// PacketConns are the datagram sockets (RDP over UDP, peers), in order.
	PacketConns []NamedPacketConn
}

// Listeners takes the sockets systemd passed (LISTEN_FDS, LISTEN_PID,
// LISTEN_FDNAMES; with a .socket unit such as
//
//	[Socket]
//	ListenStream=3389
//	FileDescriptorName=client
//
// and Accept=no, the default). It must be called once, early: it unsets the
// three variables so that no child (an upgrade) takes them for its own,
// and it marks the descriptors close-on-exec. When LISTEN_PID is not this
// process, the variables are ignored (and unset), as sd_listen_fds does.
//
// Each descriptor becomes a stream listener or a packet conn; one that is
// neither is closed and reported in the error, together with whatever was
// taken (the caller decides whether to go on).
func Listeners(clientName string) (Activated, error) {
	var act Activated
	var errs []error
	for i, f := range activation.Files(true) {
		if err := act.add(f, clientName); err != nil {
			errs = append(errs, fmt.Errorf("systemd: socket activation: descriptor %d (%q): %w", 3+i, f.Name(), err))
		}
		f.Close() // net.File* duplicated it
	}
	if act.Client == nil && len(act.Listeners) > 0 {
		act.Client = act.Listeners[0].Listener
		act.Listeners = act.Listeners[1:]
	}
	return act, errors.Join(errs...)
}

// add files one passed descriptor as the client listener, another
// listener or a packet conn.
func (a *Activated) add(f *os.File, clientName string) error {
	ln, lerr := net.FileListener(f)
	if lerr == nil {
		if a.Client == nil && f.Name() == clientName {
			a.Client = ln
		} else {
			a.Listeners = append(a.Listeners, NamedListener{Name: f.Name(), Listener: ln})
		}
		return nil
	}
	pc, perr := net.FilePacketConn(f)
	if perr == nil {
		a.PacketConns = append(a.PacketConns, NamedPacketConn{Name: f.Name(), PacketConn: pc})
		return nil
	}
	return fmt.Errorf("neither a listening stream socket (%v) nor a datagram socket (%v)", lerr, perr)
}

// Close closes every socket held (for a caller giving up after an error).
func (a Activated) Close() {
	if a.Client != nil {
		a.Client.Close()
	}
	for _, l := range a.Listeners {
		l.Close()
	}
	for _, p := range a.PacketConns {
		p.Close()
	}
}
