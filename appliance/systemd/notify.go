package systemd

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Options are the Notifier's injected dependencies; zero values get
// defaults.
type Options struct {
	// Logger receives the first failure to notify (and the recovery), and
	// the watchdog's state changes. Default: slog.Default().
	Logger *slog.Logger
	// Monotonic reads CLOCK_MONOTONIC, the clock of MONOTONIC_USEC.
	// Default: clock_gettime(CLOCK_MONOTONIC).
	Monotonic func() time.Duration
}

// Notifier sends sd_notify messages to $NOTIFY_SOCKET. Every method is a
// no-op (returning nil) when the process was not started by systemd with
// Type=notify; all are safe for concurrent use.
//
// A failed send is logged once, not per call: the next failures stay
// silent until a send succeeds again (which is logged too). The methods
// also return the error, already logged: callers may ignore it.
type Notifier struct {
	log       *slog.Logger
	monotonic func() time.Duration
	socket    string        // $NOTIFY_SOCKET at New ("" = not under systemd)
	watchdog  time.Duration // WatchdogSec when it applies to this process, else 0

	mu      sync.Mutex // protects following fields
	failing bool       // the last send failed and was logged
}

// New reads the systemd environment. NOTIFY_SOCKET is left in the
// environment (daemon.SdNotify reads it at every send, and the upgraded
// process inherits it); WATCHDOG_USEC and WATCHDOG_PID are unset so that
// no child inherits a WATCHDOG_PID that is not its own (UpgradeEnv gives
// the upgraded process what it needs instead).
func New(opts Options) *Notifier {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Monotonic == nil {
		opts.Monotonic = clockMonotonic
	}
	n := &Notifier{log: opts.Logger, monotonic: opts.Monotonic, socket: os.Getenv("NOTIFY_SOCKET")}
	wd, err := daemon.SdWatchdogEnabled(true)
	if err != nil {
		n.log.Warn("systemd: watchdog environment unusable; not pinging", "err", err)
		wd = 0
	}
	n.watchdog = wd
	return n
}

// Enabled reports whether NOTIFY_SOCKET was set: the service is
// Type=notify and systemd listens.
func (n *Notifier) Enabled() bool { return n.socket != "" }

// WatchdogInterval is WatchdogSec when systemd watches this process
// (WATCHDOG_USEC set and WATCHDOG_PID absent or ours), else 0.
func (n *Notifier) WatchdogInterval() time.Duration { return n.watchdog }

// Ready sends READY=1: after start, once the listener is open, the
// affinity table loaded and the first routing table built; and after each
// reload (successful or refused), ending the RELOADING=1 state.
func (n *Notifier) Ready() error { return n.send(daemon.SdNotifyReady) }

// Reloading sends RELOADING=1 with MONOTONIC_USEC, the current
// CLOCK_MONOTONIC in microseconds, which Type=notify-reload (systemd >=
// 253) requires to match the reload to its SIGHUP. Ready must follow once
// the reload is over.
func (n *Notifier) Reloading() error {
	usec := n.monotonic().Microseconds()
	return n.send(daemon.SdNotifyReloading + "\nMONOTONIC_USEC=" + strconv.FormatInt(usec, 10))
}

// Stopping sends STOPPING=1: the broker stopped accepting and is draining.
func (n *Notifier) Stopping() error { return n.send(daemon.SdNotifyStopping) }

// Status sends STATUS=text, shown by `systemctl status`. Line breaks are
// replaced by spaces (the protocol is one assignment per line).
func (n *Notifier) Status(text string) error {
	return n.send("STATUS=" + oneLine(text))
}

// MainPID sends MAINPID=pid: from now on systemd tracks pid as the
// service's main process. systemd accepts it from the current main
// process with the default NotifyAccess=main; from any other process (the
// upgraded one announcing itself) only with NotifyAccess=all, and it
// ignores it silently otherwise. pid must be in the service's cgroup (a
// child started by the old process is).
func (n *Notifier) MainPID(pid int) error {
	return n.send("MAINPID=" + strconv.Itoa(pid))
}

// TakeOver is what the upgraded process sends once it serves: MAINPID= its
// own pid, then READY=1, in one datagram so systemd applies both at once.
// It needs NotifyAccess=all in the unit. With NotifyAccess=main, the old
// process must call MainPID(newPID) instead, and the new one Ready() after
// that (told so by the old process over the upgrade socket).
func (n *Notifier) TakeOver() error {
	return n.send("MAINPID=" + strconv.Itoa(os.Getpid()) + "\n" + daemon.SdNotifyReady)
}

// UpgradeEnv is what to add to the environment of the upgraded process so
// that it notifies the same systemd and keeps the watchdog: NOTIFY_SOCKET,
// and WATCHDOG_USEC without a WATCHDOG_PID (an absent WATCHDOG_PID means
// "this process"). Empty outside systemd.
func (n *Notifier) UpgradeEnv() []string {
	var env []string
	if n.socket != "" {
		env = append(env, "NOTIFY_SOCKET="+n.socket)
	}
	if n.watchdog > 0 {
		env = append(env, "WATCHDOG_USEC="+strconv.FormatInt(n.watchdog.Microseconds(), 10))
	}
	return env
}

// send writes one datagram and logs the first failure of a streak.
func (n *Notifier) send(state string) error {
	if n.socket == "" {
		return nil
	}
	_, err := daemon.SdNotify(false, state)
	if err != nil {
		err = fmt.Errorf("systemd: notify %s: %w", firstLine(state), err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case err != nil && !n.failing:
		n.failing = true
		n.log.Warn("systemd: notification failed; further failures are not logged until one succeeds",
			"socket", n.socket, "err", err)
	case err == nil && n.failing:
		n.failing = false
		n.log.Info("systemd: notifications work again", "socket", n.socket)
	}
	return err
}

func clockMonotonic() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
