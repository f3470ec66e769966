package metrics

import (
	"runtime/debug"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/routing"
)

// BrokerOptions complete what FromBroker reads from the broker itself.
type BrokerOptions struct {
	// Version is exported as rdpbroker_build_info{version}. Default: the
	// main module's version from the build info.
	Version string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// LastReload reports the last configuration load: whether it
	// succeeded and when the last successful one was. nil: the
	// config_last_reload_* metrics are not exported.
	LastReload func() (ok bool, at time.Time)
}

// FromBroker returns a Source reading b.
func FromBroker(b *appliance.Broker, opts BrokerOptions) Source {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Version == "" {
		opts.Version = buildVersion()
	}
	return brokerSource{b: b, opts: opts}
}

type brokerSource struct {
	b    *appliance.Broker
	opts BrokerOptions
}

// Snapshot reads the broker's live state.
func (s brokerSource) Snapshot() Snapshot {
	now := s.opts.Now()
	c := s.b.Counters()
	snap := Snapshot{
		Servers:          servers(s.b.Router(), now),
		Rejects:          c.RejectCounts(),
		AffinityOutcomes: c.AffinityOutcomes(),
		Pending:          s.b.Pending(),
		Version:          s.opts.Version,
		Cookies:          c.Cookies(),
	}
	for _, d := range c.Decisions() {
		snap.Decisions = append(snap.Decisions, Decision{Rule: d.Rule, Pool: d.Pool, Count: d.Count})
	}
	if t := s.b.Affinity(); t != nil {
		n := t.Len()
		snap.AffinityEntries = &n
	}
	if r := s.b.Replication(); r != nil {
		for _, p := range r.Peers() {
			snap.Peers = append(snap.Peers, Peer{Name: p.Name, LastContact: p.LastSync})
		}
	}
	if sy := s.b.Syncer(); sy != nil {
		st := sy.Status()
		d := &Directory{DataTime: st.LastSuccess, LastDuration: st.LastDuration, Failures: st.Failures,
			Groups: make(map[string]int, len(st.Groups))}
		if d.DataTime.IsZero() {
			if x := sy.Current(); x != nil && x.Snapshot() != nil {
				d.DataTime = x.Snapshot().Taken // the persisted snapshot's data
			}
		}
		for g, info := range st.Groups {
			d.Groups[g] = info.Members
		}
		snap.Directory = d
	}
	if s.opts.LastReload != nil {
		ok, at := s.opts.LastReload()
		snap.Reload = &Reload{Success: ok, At: at}
	}
	return snap
}

// servers reads every server of the routing table in effect.
func servers(r *routing.Router, now time.Time) []Server {
	t := r.Table()
	if t == nil {
		return nil
	}
	all := t.Servers()
	out := make([]Server, 0, len(all))
	for _, srv := range all {
		st := srv.Status(now)
		out = append(out, Server{
			Pool: st.Pool, Name: st.Name, State: st.State(),
			Sessions: st.Sessions, MaxSessions: st.MaxSessions, Weight: st.Weight,
			Stats: &ServerStats{Sessions: st.SessionsTotal, BytesIn: st.BytesIn, BytesOut: st.BytesOut,
				ConnectFailures: st.ConnectFailuresTotal, CheckFailures: st.CheckFailuresTotal,
				CheckDuration: st.LastCheckDuration},
		})
	}
	return out
}

// buildVersion is the main module's version, "(devel)" for a plain
// go build.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}
