package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// EnvFD names the descriptor of the upgrade socket in the new process.
const EnvFD = "RDPBROKER_UPGRADE_FD"

// Broker is what the old process's broker does for an upgrade
// (appliance.Broker implements it).
type Broker interface {
	PauseAccept(timeout time.Duration) error
	ResumeAccept()
	ReleaseAffinity() error
	ReclaimAffinity() error
	NextID() uint64
	SessionIDs() []uint64
	Settled() bool
	QuiesceSession(id uint64, deadline time.Time) (record []byte, client, server *net.TCPConn, err error)
	CommitSession(id uint64)
	ResumeSession(id uint64)
}

// NamedFile is a listening socket to hand over, by name ("client",
// "admin").
type NamedFile struct {
	Name string
	File *os.File
}

// Options are Start's dependencies; zero values get defaults.
type Options struct {
	// Logger receives the steps. Default slog.Default().
	Logger *slog.Logger
	// Config bounds the steps. Default DefaultConfig().
	Config Config
	// Binary is the program to start. Default: os.Executable() now, the
	// path the running binary was started from (a package upgrade has
	// replaced the file there).
	Binary string
	// Args are its arguments. Default os.Args[1:].
	Args []string
	// Env is added to the environment (systemd's UpgradeEnv).
	Env []string
	// Listeners are handed over, in order.
	Listeners []NamedFile
	// Stdout and Stderr of the new process. Default os.Stdout, os.Stderr.
	Stdout, Stderr io.Writer
}

// Report is what an upgrade did.
type Report struct {
	PID        int           // the new process
	Version    string        // its version
	HandedOver int           // sessions now relayed by the new process
	Kept       int           // sessions left with this process (not quiesced in time, refused)
	Took       time.Duration // from start to done
	Sessions   time.Duration // of which handing the sessions over
}

// Start runs an upgrade from the old process's side and returns once the
// new process serves and has every session it could take (Report), or
// with the reason the upgrade failed, the old process then serving as
// before. See the package doc for the protocol.
func Start(ctx context.Context, b Broker, opts Options) (Report, error) {
	opts = withDefaults(opts)
	if err := opts.Config.Validate(); err != nil {
		return Report{}, fmt.Errorf("upgrade: %w", err)
	}
	began := time.Now()
	child, err := spawn(opts)
	if err != nil {
		return Report{}, err
	}
	u := &upgrader{b: b, opts: opts, log: opts.Logger, child: child}
	rep, err := u.run(ctx)
	rep.Took = time.Since(began)
	return rep, err
}

func withDefaults(opts Options) Options {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Config == (Config{}) {
		opts.Config = DefaultConfig()
	}
	if opts.Args == nil {
		opts.Args = os.Args[1:]
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	return opts
}

// process is the started new process and its end of the socket.
type process struct {
	cmd    *exec.Cmd
	ch     *channel
	exited chan struct{} // closed when it has exited
	err    error         // its exit status, once exited
}

// spawn starts the new binary with the other end of a socket pair as
// descriptor 3.
func spawn(opts Options) (*process, error) {
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("upgrade: find the binary: %w", err)
		}
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("upgrade: socketpair: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "upgrade"), os.NewFile(uintptr(fds[1]), "upgrade-child")
	defer theirs.Close()
	fc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, fmt.Errorf("upgrade: socket: %w", err)
	}
	cmd := exec.Command(bin, opts.Args...)
	cmd.Env = append(append(os.Environ(), opts.Env...), EnvFD+"=3")
	cmd.Stdout, cmd.Stderr = opts.Stdout, opts.Stderr
	cmd.ExtraFiles = []*os.File{theirs}
	if err := cmd.Start(); err != nil {
		fc.Close()
		return nil, fmt.Errorf("upgrade: start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, ch: &channel{c: fc.(*net.UnixConn)}, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	opts.Logger.Info("upgrade: new process started", "pid", cmd.Process.Pid, "binary", bin)
	return p, nil
}

// kill ends a new process that failed, and waits (bounded) until it is
// gone: its store lock and its copies of the listeners with it.
func (p *process) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
	}
	p.ch.c.Close()
}

// why names how the new process failed: its fail message, its exit, or
// the receive error.
func (p *process) why(step string, m message, err error) error {
	if err == nil && m.Type == msgFail {
		return fmt.Errorf("upgrade: new process (pid %d) failed %s: %s", p.cmd.Process.Pid, step, m.Error)
	}
	if err == nil {
		return fmt.Errorf("upgrade: new process (pid %d) %s: unexpected %q", p.cmd.Process.Pid, step, m.Type)
	}
	if errors.Is(err, errClosed) || errors.Is(err, io.EOF) {
		select {
		case <-p.exited:
		case <-time.After(2 * time.Second):
		}
		select {
		case <-p.exited:
			return fmt.Errorf("upgrade: new process (pid %d) exited %s: %v", p.cmd.Process.Pid, step, p.err)
		default:
		}
	}
	return fmt.Errorf("upgrade: new process (pid %d) %s: %w", p.cmd.Process.Pid, step, err)
}
