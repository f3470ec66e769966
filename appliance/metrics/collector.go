package metrics

import (
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options are the Collector's dependencies; zero values get defaults.
type Options struct {
	// Now is the clock ages are measured with. Default time.Now.
	Now func() time.Time
}

// Collector is a prometheus.Collector over a Source.
type Collector struct {
	src Source
	now func() time.Time
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector reading src at every scrape.
func NewCollector(src Source, opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Collector{src: src, now: opts.Now}
}

// NewRegistry returns a registry holding a Collector over src and Go's
// and the process's collectors (go_*, process_*). It is not the global
// registry: nothing else registers there by accident.
func NewRegistry(src Source, opts Options) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(src, opts),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves reg in the Prometheus exposition formats (/metrics).
// A scrape that fails to gather some metric still serves the rest.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("rdpbroker_"+name, help, labels, nil)
}

var (
	poolServer = []string{"pool", "server"}

	dServerSessions      = desc("server_current_sessions", "Current sessions on the server (connects under way included).", poolServer...)
	dServerSessionsTotal = desc("server_sessions_total", "Sessions proxied to the server since the broker started.", poolServer...)
	dServerMaxSessions   = desc("server_max_sessions", "Configured session cap of the server (0 = unlimited).", poolServer...)
	dServerWeight        = desc("server_weight", "Configured weight of the server.", poolServer...)
	dServerStatus        = desc("server_status", "Server state: 1 for the current one of up, down, draining, maint.", "pool", "server", "state")
	dServerCheckDuration = desc("server_check_duration_seconds", "Duration of the server's last active health check.", poolServer...)
	dServerCheckFailures = desc("server_check_failures_total", "Failed active health checks of the server.", poolServer...)
	dServerBytesIn       = desc("server_bytes_in_total", "Bytes from clients to the server.", poolServer...)
	dServerBytesOut      = desc("server_bytes_out_total", "Bytes from the server to clients.", poolServer...)
	dServerConnectFails  = desc("server_connect_failures_total", "Failed connects to the server (each retry counts).", poolServer...)
	dRejects             = desc("rejects_total", "Clients refused before reaching a server, by reason.", "reason")
	dDecisions           = desc("decisions_total", "Routing decisions by matching rule and chosen pool.", "rule", "pool")
	dAffinityOutcomes    = desc("affinity_outcomes_total", "Decisions by how the user's affinity entry weighed.", "outcome")
	dAffinityEntries     = desc("affinity_entries", "Entries in the affinity table.")
	dPeerLastContact     = desc("peer_last_contact_seconds", "Seconds since the last contact with the replication peer (+Inf: never).", "peer")
	dDirectoryAge        = desc("directory_sync_age_seconds", "Age of the directory membership in use (+Inf: none yet).")
	dDirectoryDuration   = desc("directory_sync_duration_seconds", "Duration of the last directory sync.")
	dDirectoryErrors     = desc("directory_sync_errors_total", "Failed directory syncs.")
	dDirectoryMembers    = desc("directory_group_members", "Members of the configured directory group.", "group")
	dCookies             = desc("cookies_total", "First packets by cookie kind: full, truncated, none, token.", "kind")
	dPending             = desc("pending_connections", "Clients still sending their first packet.")
	dReloadSuccess       = desc("config_last_reload_success", "Whether the last configuration load succeeded.")
	dReloadTimestamp     = desc("config_last_reload_success_timestamp_seconds", "Time of the last successful configuration load.")
	dBuildInfo           = desc("build_info", "Always 1; the version of the running broker.", "version")
	allDescs             = []*prometheus.Desc{
		dServerSessions, dServerSessionsTotal, dServerMaxSessions, dServerWeight, dServerStatus,
		dServerCheckDuration, dServerCheckFailures, dServerBytesIn, dServerBytesOut, dServerConnectFails,
		dRejects, dDecisions, dAffinityOutcomes, dAffinityEntries, dPeerLastContact, dDirectoryAge,
		dDirectoryDuration, dDirectoryErrors, dDirectoryMembers, dCookies, dPending, dReloadSuccess,
		dReloadTimestamp, dBuildInfo,
	}
)

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect reads the source and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Snapshot()
	now := c.now()
	e := emitter{ch}
	for _, srv := range s.Servers {
		e.server(srv)
	}
	e.counters(dRejects, s.Rejects)
	for _, d := range s.Decisions {
		e.counter(dDecisions, float64(d.Count), d.Rule, d.Pool)
	}
	e.counters(dAffinityOutcomes, s.AffinityOutcomes)
	if s.AffinityEntries != nil {
		e.gauge(dAffinityEntries, float64(*s.AffinityEntries))
	}
	for _, p := range s.Peers {
		e.gauge(dPeerLastContact, age(now, p.LastContact), p.Name)
	}
	if d := s.Directory; d != nil {
		e.gauge(dDirectoryAge, age(now, d.DataTime))
		e.gauge(dDirectoryDuration, d.LastDuration.Seconds())
		e.counter(dDirectoryErrors, float64(d.Failures))
		for g, n := range d.Groups {
			e.gauge(dDirectoryMembers, float64(n), g)
		}
	}
	e.counters(dCookies, s.Cookies)
	e.gauge(dPending, float64(s.Pending))
	if r := s.Reload; r != nil {
		e.gauge(dReloadSuccess, b2f(r.Success))
		if !r.At.IsZero() {
			e.gauge(dReloadTimestamp, float64(r.At.UnixNano())/1e9)
		}
	}
	e.gauge(dBuildInfo, 1, s.Version)
}

// emitter sends const metrics; a label set the registry would reject
// (a bug) is skipped rather than failing the whole scrape.
type emitter struct{ ch chan<- prometheus.Metric }

func (e emitter) send(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		e.ch <- prometheus.NewInvalidMetric(d, err)
		return
	}
	e.ch <- m
}

func (e emitter) gauge(d *prometheus.Desc, v float64, labels ...string) {
	e.send(d, prometheus.GaugeValue, v, labels...)
}

func (e emitter) counter(d *prometheus.Desc, v float64, labels ...string) {
	e.send(d, prometheus.CounterValue, v, labels...)
}

func (e emitter) counters(d *prometheus.Desc, m map[string]uint64) {
	for k, v := range m {
		e.counter(d, float64(v), k)
	}
}

func (e emitter) server(s Server) {
	l := []string{s.Pool, s.Name}
	e.gauge(dServerSessions, float64(s.Sessions), l...)
	e.gauge(dServerMaxSessions, float64(s.MaxSessions), l...)
	e.gauge(dServerWeight, float64(s.Weight), l...)
	for _, st := range States {
		e.gauge(dServerStatus, b2f(s.State == st), s.Pool, s.Name, st)
	}
	if t := s.Stats; t != nil {
		e.counter(dServerSessionsTotal, float64(t.Sessions), l...)
		e.counter(dServerBytesIn, float64(t.BytesIn), l...)
		e.counter(dServerBytesOut, float64(t.BytesOut), l...)
		e.counter(dServerConnectFails, float64(t.ConnectFailures), l...)
		e.counter(dServerCheckFailures, float64(t.CheckFailures), l...)
		e.gauge(dServerCheckDuration, t.CheckDuration.Seconds(), l...)
	}
}

// age is the seconds from t to now; +Inf when t is zero (never).
func age(now, t time.Time) float64 {
	if t.IsZero() {
		return math.Inf(1)
	}
	return max(now.Sub(t).Seconds(), 0)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
