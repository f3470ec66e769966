package routing

import (
	"slices"
	"time"
)

// Explanation is a decision with every step that led to it (Explain). Its
// JSON form is what `rdpbroker ctl route explain --json` prints.
type Explanation struct {
	// Decision is the decision itself, as Decide would return it now.
	Decision Decision `json:"-"`

	// Cookie, Client, Token and At echo the request explained.
	Cookie string    `json:"cookie,omitempty"`
	Client string    `json:"client,omitempty"`
	Token  string    `json:"token,omitempty"`
	At     time.Time `json:"at"`

	// Rule is Decision.Rule: the rule that matched, or RuleDefault etc.
	Rule string `json:"rule"`
	// Pool is the chosen pool ("" when none was chosen).
	Pool string `json:"pool"`
	// Server is the server a connection would get now (the first
	// candidate); "" when it would be refused.
	Server string `json:"server"`
	// Address is Server's address.
	Address string `json:"address,omitempty"`
	// Refused is Decision.Err's text; "" when a connection would go on.
	Refused string `json:"refused,omitempty"`
	// Why is Decision.Why.
	Why string `json:"why"`

	// Key is the user (Decision.Key).
	Key string `json:"key,omitempty"`
	// Identities are the users the login designates, with their groups
	// (several for a truncated mstsc cookie; the login itself, Known
	// false, when the directory does not know it).
	Identities []IdentityInfo `json:"identities"`
	// DirectorySource says where identities and groups come from:
	// SourceStatic, a DirectorySource's Source, or SourceDirectory.
	DirectorySource string `json:"directory_source,omitempty"`
	// Ambiguous is Decision.Ambiguous.
	Ambiguous bool `json:"ambiguous,omitempty"`
	// Learned is what the client's address taught a request without
	// cookie or usable token under no_cookie: learned; nil otherwise.
	Learned *LearnedInfo `json:"learned,omitempty"`
	// Steps are the rules tried, in order, per identity.
	Steps []Step `json:"steps"`
	// Affinity is the user's affinity entry and how it weighed.
	Affinity AffinityInfo `json:"affinity"`
	// Candidates are the servers of the chosen pool with their state:
	// first the try order (Rank 1, 2, ...), then the others (in pool
	// order) with why they are not in it.
	Candidates []Candidate `json:"candidates"`
}

// IdentityInfo is one user a login designates.
type IdentityInfo struct {
	// Login is the canonical login (Identity.Key).
	Login string `json:"login"`
	// Groups are the user's groups.
	Groups []string `json:"groups"`
	// Known is false when the directory does not know the login: the
	// rules saw the login itself, without groups.
	Known bool `json:"known"`
}

// LearnedInfo is the no_cookie: learned step of an Explanation.
type LearnedInfo struct {
	// Outcome is Decision.Learned: LearnedOne, LearnedAmbiguous or
	// LearnedNone.
	Outcome string `json:"outcome"`
	// Logins are the users the address presented cookies for within the
	// window, most recent first (at most two are kept).
	Logins []string `json:"logins"`
	// Login is the user the request was routed as (LearnedOne only).
	Login string `json:"login,omitempty"`
	// Window is learn_window.
	Window time.Duration `json:"window"`
}

// Step is one rule tried for one identity.
type Step struct {
	// Rule is the rule's name.
	Rule string `json:"rule"`
	// Pool is the pool the rule sends to.
	Pool string `json:"pool"`
	// Criteria are the criteria the rule has ("logins+networks").
	Criteria string `json:"criteria"`
	// Identity is the login the rule was tried for.
	Identity string `json:"identity,omitempty"`
	// Matched says whether the rule matched.
	Matched bool `json:"matched"`
	// Failed is the first criterion that did not match: "collection",
	// "network", "time", "login" or "group"; "" when Matched.
	Failed string `json:"failed,omitempty"`
	// Why says it in a sentence.
	Why string `json:"why"`
}

// AffinityInfo is the user's affinity entry in an Explanation.
type AffinityInfo struct {
	// Server is the server the entry names; "" when there is none.
	Server string `json:"server"`
	// Outcome is Decision.Affinity (Affinity* constants). For the
	// dropped_* outcomes, Explain leaves the entry in place: the next real
	// connection drops it.
	Outcome string `json:"outcome,omitempty"`
}

// Candidate is one server of the chosen pool in an Explanation.
type Candidate struct {
	// Server is the server's name.
	Server string `json:"server"`
	// Address is its address.
	Address string `json:"address"`
	// State is ServerStatus.State: up, down, draining or maint.
	State string `json:"state"`
	// Healthy is the active health check's verdict.
	Healthy bool `json:"healthy"`
	// Admin is the admin state in force.
	Admin AdminState `json:"admin"`
	// Sessions and MaxSessions (0 = unlimited) are its session count and cap.
	Sessions    int `json:"sessions"`
	MaxSessions int `json:"max_sessions"`
	// Weight is the effective weight, ConfiguredWeight the configured one.
	Weight           int `json:"weight"`
	ConfiguredWeight int `json:"configured_weight"`
	// Rank is the server's place in the try order, from 1; 0 when it is
	// not in it.
	Rank int `json:"rank"`
	// Excluded says why the server is not in the try order.
	Excluded string `json:"excluded,omitempty"`
}

// Explain decides req like Decide, with the same code, and reports every
// step: the rules tried and why each matched or not, the identities and
// groups, the affinity entry, each server of the pool with its state, and
// the server a connection would get now. It writes nothing: no affinity
// entry is placed or dropped, and the balancing policy only peeks at its
// next order (Peeker), so the next real connection gets the same server
// if nothing changes meanwhile.
func (t *Table) Explain(req Request) Explanation {
	x := &explainer{e: Explanation{Identities: []IdentityInfo{}, Steps: []Step{}, Candidates: []Candidate{}}}
	d := t.decide(req, x)
	e := &x.e
	e.Decision = d
	if req.Cookie != "" {
		e.Cookie = req.Cookie
	} else if !req.Login.IsZero() {
		e.Cookie = req.Login.Raw
	}
	if req.Client.IsValid() {
		e.Client = req.Client.String()
	}
	e.Token = req.Token.Raw
	e.Rule, e.Pool, e.Key, e.Why, e.Ambiguous = d.Rule, d.Pool, d.Key, d.Why, d.Ambiguous
	e.Affinity.Outcome = d.Affinity
	if d.Err != nil {
		e.Refused = d.Err.Error()
	}
	if len(d.Candidates) > 0 {
		e.Server, e.Address = d.Candidates[0].Name, d.Candidates[0].Address
	}
	if p := t.poolByName[d.Pool]; p != nil {
		for _, s := range p.Servers {
			e.Candidates = append(e.Candidates, candidate(s, &d, e.At))
		}
		slices.SortStableFunc(e.Candidates, byRank)
	}
	return *e
}

// Explain explains req with the current table (see Table.Explain).
func (r *Router) Explain(req Request) Explanation {
	t := r.table.Load()
	if t == nil {
		d := Decision{Err: ErrNoServer, Why: "no routing configuration applied"}
		return Explanation{Decision: d, Refused: d.Err.Error(), Why: d.Why,
			Identities: []IdentityInfo{}, Steps: []Step{}, Candidates: []Candidate{}}
	}
	return t.Explain(req)
}

// candidate describes s for decision d at now.
func candidate(s *Server, d *Decision, now time.Time) Candidate {
	st := s.Status(now)
	c := Candidate{
		Server: s.Name, Address: s.Address, State: st.State(), Healthy: st.Healthy, Admin: st.Admin,
		Sessions: st.Sessions, MaxSessions: st.MaxSessions, Weight: st.Weight, ConfiguredWeight: st.ConfiguredWeight,
	}
	if i := slices.Index(d.Candidates, s); i >= 0 {
		c.Rank = i + 1
		return c
	}
	c.Excluded = excluded(s, d, now)
	return c
}

// byRank orders the try order first, then the servers not in it.
func byRank(a, b Candidate) int {
	switch {
	case a.Rank == b.Rank:
		return 0
	case a.Rank == 0:
		return 1
	case b.Rank == 0:
		return -1
	}
	return a.Rank - b.Rank
}

// excluded says why s is not in d's try order.
func excluded(s *Server, d *Decision, now time.Time) string {
	token := d.Rule == RuleMSTSToken
	if reason := s.unavailable(now, token); reason != "" {
		return reason
	}
	switch {
	case s.EffectiveWeight() <= 0:
		return "weight 0"
	case token:
		return "not the server the routing token names"
	case d.Affinity == AffinityHit || d.Affinity == AffinityHitDrain:
		return "the user is affined to " + d.Candidates[0].Name
	case d.Affinity == AffinityDownGrace:
		return "the user's affined server is down within down_grace: refused"
	case d.Err != nil:
		return "the request is refused"
	}
	return "beyond the try order (1+retries servers)"
}

// explainer collects an Explanation while decide runs. decide calls its
// methods on a nil *explainer on the hot path: each returns at once.
type explainer struct {
	e Explanation
}

func (x *explainer) request(req *Request) {
	if x == nil {
		return
	}
	x.e.At = req.Now
}

// identities records the identities the directory resolved.
func (x *explainer) identities(dir Directory, ids []Identity, pseudo bool) {
	if x == nil {
		return
	}
	x.e.DirectorySource = sourceOf(dir)
	for _, id := range ids {
		x.e.Identities = append(x.e.Identities, IdentityInfo{Login: id.Key, Groups: slices.Clone(id.Groups), Known: !pseudo})
	}
}

// learned records the no_cookie: learned lookup of req.
func (x *explainer) learned(t *Table, req *Request, outcome, key string) {
	if x == nil {
		return
	}
	li := &LearnedInfo{Outcome: outcome, Window: t.learn.window,
		Logins: t.learn.l.Logins(req.Client, req.Now, t.learn.window)}
	if li.Logins == nil {
		li.Logins = []string{}
	}
	if outcome == LearnedOne {
		li.Login = key
	}
	x.e.Learned = li
}

// step records rule r tried for id.
func (x *explainer) step(r *rule, req *Request, id *Identity, miss criterion) {
	if x == nil {
		return
	}
	x.e.Steps = append(x.e.Steps, Step{Rule: r.name, Pool: r.pool.Name, Criteria: r.criteria, Identity: id.Key,
		Matched: miss == matched, Failed: miss.String(), Why: r.why(req, id, miss)})
}

// affinity records the user's affinity entry.
func (x *explainer) affinity(server string, ok bool) {
	if x == nil || !ok {
		return
	}
	x.e.Affinity.Server = server
}

// order is the pool's next try order, without advancing the policy when
// it is a Peeker.
func (x *explainer) order(p *Pool, now time.Time) []*Server {
	dst := make([]*Server, 0, len(p.Servers))
	if pk, ok := p.policy.(Peeker); ok {
		return pk.Peek(p.Servers, now, dst)
	}
	return p.policy.Order(p.Servers, now, dst)
}
