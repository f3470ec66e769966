// Package metrics exports rdpbroker's state to Prometheus: a Collector
// that reads the live state at scrape time (no copies kept up to date on
// the hot path), registered on its own Registry with Go's and the
// process's collectors. Names are under rdpbroker_ and follow HAProxy's
// exporter where the concept is the same (rdpbroker_server_* as
// haproxy_server_*), so dashboards carry over. No label carries a login or
// a client address.
//
// Typical use (what `rdpbroker serve` does):
//
//	reg := metrics.NewRegistry(metrics.FromBroker(broker, metrics.BrokerOptions{Version: version}), metrics.Options{})
//	admin.New(cfg.Admin, admin.Options{Metrics: metrics.Handler(reg), ...})
//
// The Collector depends only on the Source interface; FromBroker adapts
// an *appliance.Broker to it.
package metrics
