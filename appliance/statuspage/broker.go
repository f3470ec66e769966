package statuspage

import (
	"sort"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance"
	"github.com/rdpbroker/rdpbroker/routing"
)

// BrokerOptions complete what FromBroker reads from the broker itself.
type BrokerOptions struct {
	// Version is shown in the footer. Default none.
	Version string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Ready says whether the broker serves (nil) or why not (the same
	// function as admin.Options.Ready). nil: serving once the broker
	// listens (Broker.Ready).
	Ready func() error
	// Config reports the configuration loads: the time of the last
	// successful one, whether the last attempt succeeded and its error.
	// nil: the page says the load time is not known.
	Config func() ConfigLoad
}

// FromBroker returns a Source reading b.
func FromBroker(b *appliance.Broker, opts BrokerOptions) Source {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return brokerSource{b: b, opts: opts}
}

type brokerSource struct {
	b    *appliance.Broker
	opts BrokerOptions
}

// Status reads the broker's live state.
func (s brokerSource) Status() Snapshot {
	now := s.opts.Now()
	c := s.b.Counters()
	snap := Snapshot{
		Listen:   s.b.Config().Listen,
		Version:  s.opts.Version,
		Active:   c.Active.Load(),
		Pending:  s.b.Pending(),
		Pools:    pools(s.b.Router(), now),
		Refusals: c.RejectCounts(),
	}
	snap.Serving, snap.NotServing = s.serving()
	if a := s.b.Addr(); a != nil {
		snap.Listen = a.String()
	}
	if t := s.b.Affinity(); t != nil {
		n := t.Len()
		snap.AffinityEntries = &n
	}
	if r := s.b.Replication(); r != nil {
		for _, p := range r.Peers() {
			snap.Peers = append(snap.Peers, Peer{Name: p.Name, Addr: p.Addr, Connected: p.Connected,
				LastContact: p.LastSync, LastError: p.LastError})
		}
	}
	snap.Directory = s.directory()
	if s.opts.Config != nil {
		cl := s.opts.Config()
		snap.Config = &cl
	}
	return snap
}

func (s brokerSource) serving() (bool, string) {
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			return false, err.Error()
		}
		return true, ""
	}
	select {
	case <-s.b.Ready():
		return true, ""
	default:
		return false, "not listening yet"
	}
}

func (s brokerSource) directory() *Directory {
	sy := s.b.Syncer()
	if sy == nil {
		return nil
	}
	st := sy.Status()
	d := &Directory{Source: st.Source, Server: st.Server, DataTime: st.LastSuccess, LastAttempt: st.LastAttempt,
		LastError: st.LastError, Stale: st.Stale, Users: st.Users}
	if d.DataTime.IsZero() {
		if x := sy.Current(); x != nil && x.Snapshot() != nil {
			d.DataTime = x.Snapshot().Taken // the persisted snapshot's data
		}
	}
	for name, g := range st.Groups {
		d.Groups = append(d.Groups, Group{Name: name, Members: g.Members, Kept: g.Kept})
	}
	sort.Slice(d.Groups, func(i, j int) bool { return d.Groups[i].Name < d.Groups[j].Name })
	return d
}

// pools reads the routing table in effect.
func pools(r *routing.Router, now time.Time) []Pool {
	t := r.Table()
	if t == nil {
		return nil
	}
	var out []Pool
	for _, p := range t.Pools() {
		pool := Pool{Name: p.Name, Balance: p.Balance}
		for _, srv := range p.Servers {
			st := srv.Status(now)
			why := st.LastError
			if why == "" && !st.FailedUntil.IsZero() {
				why = "failed connects: out until " + st.FailedUntil.Format("15:04:05")
			}
			pool.Servers = append(pool.Servers, Server{Name: st.Name, Address: st.Address, State: st.State(),
				Sessions: st.Sessions, MaxSessions: st.MaxSessions, Weight: st.Weight, Check: st.Check,
				LastCheck: st.LastCheck, LastError: why})
		}
		out = append(out, pool)
	}
	return out
}
