// Package appliance wires rdpbroker together: it composes the YAML
// configuration from each package's own Config (viper), owns the listener
// and the stages that turn one accepted client into one relayed server
// connection, keeps the counters, writes one log line per session, and
// reloads the routing state without touching sessions in flight.
//
// Typical use (what `rdpbroker serve` does, with the admin endpoint and
// systemd around it):
//
//	cfg, err := appliance.LoadConfig("/etc/rdpbroker/rdpbroker.yaml")
//	if err != nil { /* every problem, one per line, with its key path */ }
//	b, err := appliance.New(cfg, appliance.Options{Logger: logger})
//	if err != nil { ... }
//	err = b.Run(ctx) // until ctx is cancelled; SIGHUP: b.ReloadFile(path)
//
// The path of one connection (conn.go) reads as its stages, one method
// each: admit (pending slots, admit.go) -> read the first packet -> decide
// (the router's pure decision) -> reserve (global session cap) -> connect
// (the try order, connect.go) -> relay (relay.go, over appliance/relay) ->
// log (sessionlog.go). A stage that stops the client returns a refusal,
// counted by reason (counters.go).
//
// Configuration (config.go, configload.go): one owner per key. The
// appliance owns listen, inspect_timeout, state_dir, the session caps,
// shutdown_timeout and log; routing.Config and relay.Config sit at the top
// level of the file, directory.Config under "directory:", affinity.Config
// and routing.AffinityConfig under "affinity:", affinity.PeersConfig under
// "peers:", admin.Config under "admin:". Viper's defaults are derived from
// DefaultConfig.
//
// Capabilities around the broker are sub-packages, wired by cmd/rdpbroker:
// relay (the data path; the only one appliance imports besides admin's
// Config), admin, metrics, statuspage, systemd, migrate.
//
// The accept path never blocks on disk or network other than the client and
// the chosen server: routing decisions read an immutable snapshot.
package appliance
