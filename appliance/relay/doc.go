// Package relay is rdpbroker's data path: it dials a terminal server,
// replays the client's first packet, and copies both directions between the
// two raw TCP connections until the session ends. It knows nothing of
// configuration files, routing or the broker: it takes addresses, bytes and
// a Config, and returns what happened.
//
// Typical use, once the first packet has been read and a server chosen:
//
//	d := relay.NewDialer(cfg)                         // per configuration
//	server, err := d.DialAndReplay(ctx, addr, first)  // dial, write the first packet
//	if err != nil { ... try the next server ... }
//	ka := keepalives.Add(cfg.Keepalive, client, server) // one relay.Keepalives per process
//	defer ka.Stop()
//	res := relay.Splice(client, server, cfg.HalfCloseTimeout)
//	log(res.In, res.Out, res.End)
//
// Each direction starts in "small" mode, as HAProxy does by default: it
// waits for the source to be readable holding nothing, reads what is there
// into a pooled buffer, writes it and gives the buffer back. The handshake's
// packets (Connection Confirm, TLS, CredSSP) and interactive traffic cost a
// read and a write each, no pipe, and an idle direction holds no buffer and
// no descriptor. The first read that fills the buffer means bulk data: the
// direction hands over to io.Copy between the raw *net.TCPConns, which
// splices on Linux, for the rest of the session. Nothing may wrap the
// connections (a bufio.Reader or a counting reader would defeat splice):
// byte counts come from the copy loops' return values.
//
// Files: config.go (Config, DefaultConfig, Validate), dial.go (dial and
// replay), splice.go (the two directions and how a session ends),
// copy.go (one direction: small mode, then splice), keepalive.go,
// session.go (Session: Splice that can be paused) and quiesce.go (bring a
// session to a point where the relay holds no byte, to hand its two
// connections to another process during an upgrade).
package relay
