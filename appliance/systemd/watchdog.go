package systemd

import (
	"context"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Watchdog sends WATCHDOG=1 at once and then every half of WatchdogSec,
// each time only if alive() reports true (typically
// Heartbeat.Alive(DefaultWedgeAfter)), until ctx is done. While alive()
// is false no ping is sent, so systemd kills and restarts a broker whose
// accept loop is wedged WatchdogSec after the last ping; pings resume as
// soon as alive() is true again. The change each way is logged once.
//
// It returns at once when systemd watches nothing (WatchdogInterval 0)
// or NOTIFY_SOCKET is unset. Run it on a context that ends when the
// process is about to exit, not when it starts stopping: systemd may still
// watch the drain that follows STOPPING=1.
func (n *Notifier) Watchdog(ctx context.Context, alive func() bool) {
	if n.watchdog <= 0 || !n.Enabled() {
		return
	}
	t := time.NewTicker(n.watchdog / 2)
	defer t.Stop()
	wedged := false
	for {
		wedged = n.watchdogTick(alive(), wedged)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// watchdogTick pings if alive and logs a change of state; it returns
// whether the loop is now considered wedged.
func (n *Notifier) watchdogTick(alive, wasWedged bool) bool {
	switch {
	case !alive && !wasWedged:
		n.log.Error("systemd: accept loop wedged; withholding watchdog pings so that systemd restarts the service",
			"watchdog", n.watchdog)
	case alive && wasWedged:
		n.log.Warn("systemd: accept loop alive again; watchdog pings resumed")
	}
	if alive {
		n.send(daemon.SdNotifyWatchdog)
	}
	return !alive
}
