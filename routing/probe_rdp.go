package routing

import "github.com/rdpbroker/rdpbroker/rdp"

// The "rdp" health check is rdp.Probe.
func init() { rdpProbe = rdp.Probe }
