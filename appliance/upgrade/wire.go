package upgrade

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// Message types, in protocol order (see the package doc).
const (
	msgHello    = "hello"    // new -> old: configuration loaded and valid; send the rest
	msgHandover = "handover" // old -> new: listeners (fds), next session id; store released
	msgReady    = "ready"    // new -> old: serving on the listeners, store open
	msgCommit   = "commit"   // old -> new: no way back; take over systemd's MAINPID
	msgSession  = "session"  // old -> new: one quiesced session: record + client and server fds
	msgAdopted  = "adopted"  // new -> old: relaying it (the old process lets go)
	msgRefused  = "refused"  // new -> old: not adopted (the old process resumes it)
	msgDone     = "done"     // old -> new: no more sessions
	msgFail     = "fail"     // new -> old: giving up, with the reason
)

// message is one datagram of the protocol (SOCK_SEQPACKET: one message
// per datagram, the descriptors attached to it).
type message struct {
	Type      string          `json:"type"`
	PID       int             `json:"pid,omitempty"`
	Version   string          `json:"version,omitempty"`
	Error     string          `json:"error,omitempty"`
	Listeners []string        `json:"listeners,omitempty"` // names of the attached fds, in order
	NextID    uint64          `json:"next_id,omitempty"`
	ID        uint64          `json:"id,omitempty"`
	Record    json.RawMessage `json:"record,omitempty"`
	Handed    int             `json:"handed,omitempty"`
	Kept      int             `json:"kept,omitempty"`
}

// maxMessage bounds one datagram (records are a few hundred bytes).
const maxMessage = 64 << 10

// maxFDs bounds the descriptors of one message.
const maxFDs = 16

// channel is one end of the upgrade socket.
type channel struct {
	c *net.UnixConn
}

// send writes m with files attached (their descriptors are duplicated
// into the receiver by the kernel; the caller still closes its own).
func (ch *channel) send(m message, files ...*os.File) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("upgrade: send %s: %w", m.Type, err)
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			if fds[i], err = rawFD(f); err != nil {
				return fmt.Errorf("upgrade: send %s: %w", m.Type, err)
			}
		}
		oob = syscall.UnixRights(fds...)
	}
	ch.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ch.c.WriteMsgUnix(b, oob, nil); err != nil {
		return fmt.Errorf("upgrade: send %s: %w", m.Type, err)
	}
	return nil
}

// rawFD is f's descriptor, read without f.Fd(), which would switch the
// socket (shared with the running connection or listener) to blocking
// mode. f stays open until the send is done, so the number stays valid.
func rawFD(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// errClosed: the other process closed its end (it exited).
var errClosed = errors.New("the other process closed the upgrade socket")

// recv reads one message and the descriptors attached to it, waiting
// until deadline (zero: no deadline).
func (ch *channel) recv(deadline time.Time) (message, []*os.File, error) {
	ch.c.SetReadDeadline(deadline)
	buf := make([]byte, maxMessage)
	oob := make([]byte, syscall.CmsgSpace(maxFDs*4))
	n, oobn, flags, _, err := ch.c.ReadMsgUnix(buf, oob)
	if err != nil {
		return message{}, nil, fmt.Errorf("upgrade: receive: %w", err)
	}
	files, ferr := parseRights(oob[:oobn])
	if n == 0 {
		closeAll(files)
		return message{}, nil, fmt.Errorf("upgrade: receive: %w", errClosed)
	}
	if ferr != nil || flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0 {
		closeAll(files)
		return message{}, nil, fmt.Errorf("upgrade: receive: truncated message or descriptors (flags %#x): %v", flags, ferr)
	}
	var m message
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		closeAll(files)
		return message{}, nil, fmt.Errorf("upgrade: receive: %w", err)
	}
	return m, files, nil
}

// parseRights turns SCM_RIGHTS control messages into files.
func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	cmsgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, c := range cmsgs {
		fds, err := syscall.ParseUnixRights(&c)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "upgrade-fd"))
		}
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// tcpConn turns a received descriptor into a *net.TCPConn (a duplicate:
// f is closed).
func tcpConn(f *os.File) (*net.TCPConn, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("descriptor is a %T, not a TCP connection", c)
	}
	return tc, nil
}
