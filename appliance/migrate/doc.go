// Package migrate translates an HAProxy RDP setup into rdpbroker's: its
// haproxy.cfg (frontend, ACLs on the mstshash cookie with their -f group
// files, use_backend rules, backends, stick tables) into an rdpbroker
// YAML configuration and logins files, and its stick table (a `show
// table` dump) into the affinity store, so that users keep their server
// on the day of the switch.
//
// Typical use (what `rdpbroker import haproxy` does):
//
//	cfg, err := migrate.Parse("haproxy.cfg", data)
//	res, err := migrate.Translate(cfg, migrate.Options{ACLRoot: "/srv/old-haproxy", LoginsDir: "/etc/rdpbroker/logins"})
//	// write res.Files into LoginsDir and res.YAML to rdpbroker.yaml;
//	// print res.Warnings: every construct not translated as such, with its line
//	dump, err := migrate.ReadStatsSocket(ctx, "/run/haproxy/admin.sock", res.StickTables())
//	entries, err := migrate.ParseShowTable(dump)
//	seeds, warns := migrate.PlanSeed(res, entries, time.Now(), "stats socket")
//	n, err := migrate.WriteAffinity("/var/lib/rdpbroker/affinity.db", affCfg, affinity.Options{}, seeds)
//
// # What is translated
//
// The first TCP frontend (or listen section): bind -> listen,
// tcp-request inspect-delay -> inspect_timeout, "tcp-request content
// reject if !RDP_COOKIE" -> no_cookie: reject, maxconn -> max_sessions,
// default_backend -> default_pool. Each use_backend ... if COND becomes
// one rule per alternative of COND, in order (first match wins in both):
// ACLs on rdp_cookie(mstshash) become logins (inline values) or a
// logins_file (the -f files, merged, written into LoginsDir), ACLs on src
// become networks. Each TCP backend becomes a pool: balance leastconn or
// roundrobin (HAProxy's default), servers with weight, maxconn ->
// max_sessions, check/inter/rise/fall/timeout check -> health (a TCP
// connect, as HAProxy's check and "tcp-check connect" do), timeout
// connect -> connect_timeout, stick-table expire -> affinity.expire.
//
// # Logins files
//
// Logins files are always generated copies, not references to the
// originals: the import may have to change them (see below), the
// originals may live on the old server, and a copy keeps the new broker's
// routing from changing under it. The seed's AD script that rewrote the
// HAProxy files has a native replacement: rdpbroker's directory section.
//
// # Differences, always reported
//
// Whatever cannot be reproduced is a Warning naming the file and line
// and saying what was done instead; constructs without effect on routing
// (logging, statistics page, daemon mode) are Notes. Notably:
//   - rdp_cookie(mstshash),bytes(0,N): HAProxy compared only the first N
//     bytes. By default the translation reproduces what HAProxy matched:
//     entries longer than N bytes (which never matched) are left out, and
//     an entry of exactly N bytes also lists the known logins it starts.
//     Options.WholeLogins compares whole logins instead (what the group
//     files say). A truncated stick key is seeded for the known logins it
//     starts.
//   - rdpbroker compares logins case-insensitively, after normalising the
//     cookie (CORP\alice, alice@realm, alice are one user): an ACL without
//     -i, or entries with a domain, match more than in HAProxy.
//   - negations (!ACL, unless), other sample fetches and match methods,
//     backup and disabled servers, PROXY protocol: not translated.
package migrate
