// Package systemd is rdpbroker's side of the systemd service protocol:
// sd_notify readiness, reload and stop notifications, a STATUS= line, the
// watchdog (pinged only while the accept loop is alive), the MAINPID=
// hand-over of an upgrade, and socket activation of the client listener.
// Everything is a no-op outside systemd (NOTIFY_SOCKET, WATCHDOG_USEC and
// LISTEN_FDS unset), so `rdpbroker serve` calls it unconditionally.
//
// Typical use (what `rdpbroker serve` does):
//
//	act, err := systemd.Listeners("client")  // before anything else: unsets LISTEN_*
//	if err != nil { ... }
//	opts.Listener = act.Client                // nil: not socket-activated, listen on cfg.Listen
//	n := systemd.New(systemd.Options{Logger: logger})
//	hb := systemd.NewHeartbeat(nil)           // the accept loop calls hb.Enter / hb.Leave / hb.Stop
//	go n.Watchdog(ctx, func() bool { return hb.Alive(systemd.DefaultWedgeAfter) })
//	<-broker.Ready(); n.Ready()
//	// SIGHUP: n.Reloading(); reload; n.Ready()
//	// SIGTERM: n.Stopping(); drain
//
// The unit this package expects (packaging/rdpbroker.service):
//
//	[Service]
//	Type=notify            # or notify-reload (systemd >= 253): Reloading sends MONOTONIC_USEC
//	NotifyAccess=all       # the upgraded process sends MAINPID= itself (see TakeOver)
//	WatchdogSec=30s
//
// The package never imports appliance: the broker's state reaches it as
// plain values (Status) and a Heartbeat the accept loop drives.
package systemd
