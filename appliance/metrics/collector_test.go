package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeSource struct{ snap Snapshot }

func (f *fakeSource) Snapshot() Snapshot { return f.snap }

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func fullSnapshot() Snapshot {
	entries := 42
	return Snapshot{
		Servers: []Server{
			{Pool: "general", Name: "ts01", State: StateUp, Sessions: 3, MaxSessions: 50, Weight: 10,
				Stats: &ServerStats{Sessions: 7, BytesIn: 1000, BytesOut: 5000, ConnectFailures: 1, CheckFailures: 2,
					CheckDuration: 1500 * time.Microsecond}},
			{Pool: "general", Name: "ts02", State: StateDraining, Weight: 1},
		},
		Rejects:          map[string]uint64{"no_server": 2},
		Decisions:        []Decision{{Rule: "sales", Pool: "general", Count: 9}},
		AffinityOutcomes: map[string]uint64{"hit": 4},
		AffinityEntries:  &entries,
		Peers:            []Peer{{Name: "b2", LastContact: t0.Add(-3 * time.Second)}, {Name: "b3"}},
		Directory: &Directory{DataTime: t0.Add(-90 * time.Second), LastDuration: 250 * time.Millisecond, Failures: 1,
			Groups: map[string]int{"Accounting": 12}},
		Cookies: map[string]uint64{CookieFull: 5, CookieTruncated: 1},
		Pending: 2,
		Reload:  &Reload{Success: false, At: t0.Add(-time.Hour)},
		Version: "v1.2.3",
	}
}

func TestCollectorGolden(t *testing.T) {
	c := NewCollector(&fakeSource{fullSnapshot()}, Options{Now: func() time.Time { return t0 }})
	want := `
# HELP rdpbroker_affinity_entries Entries in the affinity table.
# TYPE rdpbroker_affinity_entries gauge
rdpbroker_affinity_entries 42
# HELP rdpbroker_affinity_outcomes_total Decisions by how the user's affinity entry weighed.
# TYPE rdpbroker_affinity_outcomes_total counter
rdpbroker_affinity_outcomes_total{outcome="hit"} 4
# HELP rdpbroker_build_info Always 1; the version of the running broker.
# TYPE rdpbroker_build_info gauge
rdpbroker_build_info{version="v1.2.3"} 1
# HELP rdpbroker_config_last_reload_success Whether the last configuration load succeeded.
# TYPE rdpbroker_config_last_reload_success gauge
rdpbroker_config_last_reload_success 0
# HELP rdpbroker_config_last_reload_success_timestamp_seconds Time of the last successful configuration load.
# TYPE rdpbroker_config_last_reload_success_timestamp_seconds gauge
rdpbroker_config_last_reload_success_timestamp_seconds 1.7410788e+09
# HELP rdpbroker_cookies_total First packets by cookie kind: full, truncated, none, token.
# TYPE rdpbroker_cookies_total counter
rdpbroker_cookies_total{kind="full"} 5
rdpbroker_cookies_total{kind="truncated"} 1
# HELP rdpbroker_decisions_total Routing decisions by matching rule and chosen pool.
# TYPE rdpbroker_decisions_total counter
rdpbroker_decisions_total{pool="general",rule="sales"} 9
# HELP rdpbroker_directory_group_members Members of the configured directory group.
# TYPE rdpbroker_directory_group_members gauge
rdpbroker_directory_group_members{group="Accounting"} 12
# HELP rdpbroker_directory_sync_age_seconds Age of the directory membership in use (+Inf: none yet).
# TYPE rdpbroker_directory_sync_age_seconds gauge
rdpbroker_directory_sync_age_seconds 90
# HELP rdpbroker_directory_sync_duration_seconds Duration of the last directory sync.
# TYPE rdpbroker_directory_sync_duration_seconds gauge
rdpbroker_directory_sync_duration_seconds 0.25
# HELP rdpbroker_directory_sync_errors_total Failed directory syncs.
# TYPE rdpbroker_directory_sync_errors_total counter
rdpbroker_directory_sync_errors_total 1
# HELP rdpbroker_peer_last_contact_seconds Seconds since the last contact with the replication peer (+Inf: never).
# TYPE rdpbroker_peer_last_contact_seconds gauge
rdpbroker_peer_last_contact_seconds{peer="b2"} 3
rdpbroker_peer_last_contact_seconds{peer="b3"} +Inf
# HELP rdpbroker_pending_connections Clients still sending their first packet.
# TYPE rdpbroker_pending_connections gauge
rdpbroker_pending_connections 2
# HELP rdpbroker_rejects_total Clients refused before reaching a server, by reason.
# TYPE rdpbroker_rejects_total counter
rdpbroker_rejects_total{reason="no_server"} 2
# HELP rdpbroker_server_bytes_in_total Bytes from clients to the server.
# TYPE rdpbroker_server_bytes_in_total counter
rdpbroker_server_bytes_in_total{pool="general",server="ts01"} 1000
# HELP rdpbroker_server_bytes_out_total Bytes from the server to clients.
# TYPE rdpbroker_server_bytes_out_total counter
rdpbroker_server_bytes_out_total{pool="general",server="ts01"} 5000
# HELP rdpbroker_server_check_duration_seconds Duration of the server's last active health check.
# TYPE rdpbroker_server_check_duration_seconds gauge
rdpbroker_server_check_duration_seconds{pool="general",server="ts01"} 0.0015
# HELP rdpbroker_server_check_failures_total Failed active health checks of the server.
# TYPE rdpbroker_server_check_failures_total counter
rdpbroker_server_check_failures_total{pool="general",server="ts01"} 2
# HELP rdpbroker_server_connect_failures_total Failed connects to the server (each retry counts).
# TYPE rdpbroker_server_connect_failures_total counter
rdpbroker_server_connect_failures_total{pool="general",server="ts01"} 1
# HELP rdpbroker_server_current_sessions Current sessions on the server (connects under way included).
# TYPE rdpbroker_server_current_sessions gauge
rdpbroker_server_current_sessions{pool="general",server="ts01"} 3
rdpbroker_server_current_sessions{pool="general",server="ts02"} 0
# HELP rdpbroker_server_max_sessions Configured session cap of the server (0 = unlimited).
# TYPE rdpbroker_server_max_sessions gauge
rdpbroker_server_max_sessions{pool="general",server="ts01"} 50
rdpbroker_server_max_sessions{pool="general",server="ts02"} 0
# HELP rdpbroker_server_sessions_total Sessions proxied to the server since the broker started.
# TYPE rdpbroker_server_sessions_total counter
rdpbroker_server_sessions_total{pool="general",server="ts01"} 7
# HELP rdpbroker_server_status Server state: 1 for the current one of up, down, draining, maint.
# TYPE rdpbroker_server_status gauge
rdpbroker_server_status{pool="general",server="ts01",state="down"} 0
rdpbroker_server_status{pool="general",server="ts01",state="draining"} 0
rdpbroker_server_status{pool="general",server="ts01",state="maint"} 0
rdpbroker_server_status{pool="general",server="ts01",state="up"} 1
rdpbroker_server_status{pool="general",server="ts02",state="down"} 0
rdpbroker_server_status{pool="general",server="ts02",state="draining"} 1
rdpbroker_server_status{pool="general",server="ts02",state="maint"} 0
rdpbroker_server_status{pool="general",server="ts02",state="up"} 0
# HELP rdpbroker_server_weight Configured weight of the server.
# TYPE rdpbroker_server_weight gauge
rdpbroker_server_weight{pool="general",server="ts01"} 10
rdpbroker_server_weight{pool="general",server="ts02"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestCollectorUnknown: what the source cannot tell is absent, not 0;
// what it can is there.
func TestCollectorUnknown(t *testing.T) {
	c := NewCollector(&fakeSource{Snapshot{Servers: []Server{{Pool: "p", Name: "s", State: StateDown}}, Version: "x"}}, Options{})
	for name, want := range map[string]int{
		"rdpbroker_server_current_sessions":     1,
		"rdpbroker_server_status":               4,
		"rdpbroker_build_info":                  1,
		"rdpbroker_pending_connections":         1,
		"rdpbroker_server_sessions_total":       0,
		"rdpbroker_server_bytes_in_total":       0,
		"rdpbroker_decisions_total":             0,
		"rdpbroker_cookies_total":               0,
		"rdpbroker_affinity_entries":            0,
		"rdpbroker_directory_sync_age_seconds":  0,
		"rdpbroker_config_last_reload_success":  0,
		"rdpbroker_peer_last_contact_seconds":   0,
		"rdpbroker_server_check_failures_total": 0,
	} {
		if got := testutil.CollectAndCount(c, name); got != want {
			t.Errorf("%s: %d series, want %d", name, got, want)
		}
	}
}

func TestRegistryHasRuntimeCollectors(t *testing.T) {
	reg := NewRegistry(&fakeSource{fullSnapshot()}, Options{})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
	}
	for _, n := range []string{"go_goroutines", "process_open_fds", "rdpbroker_server_status"} {
		if !seen[n] {
			t.Errorf("registry has no %s", n)
		}
	}
}
