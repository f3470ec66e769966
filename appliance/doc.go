// Package appliance wires rdpbroker together: it loads and validates the
// YAML configuration (viper), owns the listener and the proxy loop that turns
// one accepted client into one spliced server connection, keeps the counters
// and writes one log line per session, and reloads the routing state on
// SIGHUP without touching sessions in flight.
//
// Typical use (what `rdpbroker serve` does):
//
//	cfg, err := appliance.LoadConfig("/etc/rdpbroker/rdpbroker.yaml")
//	if err != nil { /* print every problem, exit 1 */ }
//	b, err := appliance.New(cfg, appliance.Options{Logger: logger})
//	if err != nil { ... }
//	err = b.Run(ctx) // until ctx is cancelled
//
// The accept path never blocks on disk or network other than the client and
// the chosen server: routing decisions read an immutable snapshot.
package appliance
