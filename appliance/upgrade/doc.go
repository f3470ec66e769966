// Package upgrade replaces a running rdpbroker by a new binary without
// dropping a session: the old process starts the binary at its own path,
// hands it the listening sockets and the affinity store, then every
// established session, both TCP connections of each, quiesced so that no
// byte is held in between (appliance/relay's Quiesce); the new process
// relays them from where they stopped and the old one exits. It does not
// import appliance: it declares what it needs (Broker, Adopter).
//
// Typical use, old process (on SIGUSR2 or `ctl upgrade`):
//
//	rep, err := upgrade.Start(ctx, broker, upgrade.Options{
//		Logger: logger, Env: notifier.UpgradeEnv(),
//		Listeners: []upgrade.NamedFile{{Name: "client", File: clientFile}, {Name: "admin", File: adminFile}},
//	})
//	if err != nil { ... still serving, every session untouched ... }
//	// stop the admin endpoint, wait for rep.Kept sessions to end, exit 0
//
// New process (upgrade.Inherited() is true):
//
//	succ, err := upgrade.Join()
//	cfg, err := load(); if err != nil { succ.Fail(err); exit 1 }
//	h, err := succ.Hello(version)           // listeners; the old store is closed now
//	broker := New(cfg, h.Listener("client")) // opens the store
//	serve; if err := succ.Ready(); err != nil { exit 1 }
//	notifier.TakeOver()                      // MAINPID=self + READY=1
//	go succ.Adopt(broker)                    // sessions until "done"
//
// The protocol, over a SOCK_SEQPACKET socket pair (one JSON message per
// datagram, descriptors attached with SCM_RIGHTS); the new process gets
// its end as descriptor 3, named by RDPBROKER_UPGRADE_FD:
//
//	new -> old  hello {pid, version}        config loaded and valid
//	            (old: stop accepting, flush and close the affinity store,
//	             stop replication)
//	old -> new  handover {listeners, next_id} + listener fds
//	            (new: open the store, serve on the inherited listeners)
//	new -> old  ready
//	old -> new  commit                      (new: MAINPID + READY to systemd)
//	old -> new  session {id, record} + client fd + server fd   } one by one,
//	new -> old  adopted {id} | refused {id, error}             } each quiesced
//	old -> new  done {handed, kept}
//
// Until commit, any failure (the new process exits, sends fail, or misses
// StartTimeout or ReadyTimeout) kills the new process and leaves the old
// one serving: it accepts again on its listener, reopens its store and
// every session was never touched. After commit the new process serves;
// a session that cannot be quiesced within QuiesceTimeout, or that the
// new process refuses, goes on in the old process, which exits when the
// last of them ends.
//
// Not handed over: the peers' memberlist sockets (replication stops in
// the old process before the new one binds the same address) and UDP.
package upgrade
