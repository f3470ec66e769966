package appliance

import (
	"log/slog"
	"time"
)

// LogState writes the broker's state to the log (serve does it on
// SIGUSR1): sessions, counters, the affinity table and its peers, the
// directory sync. One "state" line, then one "state peer" line per peer.
func (b *Broker) LogState() {
	c := &b.counters
	attrs := []any{
		"active", c.Active.Load(), "sessions", c.Sessions.Load(), "accepted", c.Accepted.Load(),
		"rejected", c.RejectedTotal(), "pending", b.pending.Load(), "ambiguous", c.Ambiguous.Load(),
	}
	if t := b.Affinity(); t != nil {
		st := t.Stats()
		attrs = append(attrs, "affinity_entries", st.Entries, "affinity_tombstones", st.Tombstones,
			"affinity_pending_writes", st.PendingWrites, "affinity_flush_errors", st.FlushErrors)
	}
	for k, v := range c.AffinityOutcomes() {
		attrs = append(attrs, "affinity_"+k, v)
	}
	if s := b.Syncer(); s != nil {
		st := s.Status()
		attrs = append(attrs, "directory_source", st.Source, "directory_stale", st.Stale,
			"directory_users", st.Users, "directory_last_success", st.LastSuccess.Format(time.RFC3339))
	}
	b.log.Info("state", attrs...)
	if r := b.Replication(); r != nil {
		for _, p := range r.Peers() {
			b.log.Info("state peer", slog.String("peer", p.Name), slog.String("addr", p.Addr),
				slog.Bool("connected", p.Connected), slog.Time("last_sync", p.LastSync),
				slog.Int("queued", p.Queued), slog.Uint64("dropped", p.Dropped), slog.String("last_error", p.LastError))
		}
	}
}
