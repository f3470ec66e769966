package routing

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// Errors of refused decisions (Decision.Err wraps one of them).
var (
	// ErrNoCookie: the request yields no login and no usable routing token
	// (no line, a blank mstshash cookie, or a line that is neither a cookie
	// nor an msts or tsv token), and no_cookie is reject.
	ErrNoCookie = errors.New("routing: no cookie or routing token")
	// ErrUnknownCollection: a tsv:// routing token names an RDS collection
	// that no rule names, and unknown_collection is reject.
	ErrUnknownCollection = errors.New("routing: unknown collection")
	// ErrTokenRefused: an msts routing token names an address that is not a
	// configured server, or a server that cannot take the user.
	ErrTokenRefused = errors.New("routing: routing token refused")
	// ErrNoServer: the chosen pool has no available server.
	ErrNoServer = errors.New("routing: no server available")
	// ErrAmbiguous: a truncated login designates users the rules send to
	// different pools, and ambiguous is reject.
	ErrAmbiguous = errors.New("routing: ambiguous login")
)

// Decision.Rule values that are not rule names.
const (
	// RuleDefault: no rule matched a login (or ambiguous resolved to the
	// default pool).
	RuleDefault = "default"
	// RuleNoCookie: no rule matched a request without login or usable
	// token, or no_cookie refused it.
	RuleNoCookie = "no-cookie"
	// RuleUnknownCollection: no rule matched a tsv token of a collection
	// no rule names, or unknown_collection refused it.
	RuleUnknownCollection = "unknown-collection"
	// RuleMSTSToken: an msts routing token chose the server.
	RuleMSTSToken = "msts-token"
)

// Request is what routing knows about a connection request.
type Request struct {
	// Cookie is the mstshash identifier as sent (for logs; Login is used).
	Cookie string
	// Login is rdp.NormalizeLogin(Cookie); zero without cookie.
	Login rdp.Login
	// Token is the request's routing line.
	Token rdp.RoutingToken
	// Client is the client's IP address (unmapped).
	Client netip.Addr
	// Now is the time of the request. Zero means the table's clock.
	Now time.Time
}

// Decision is where a request goes, and why.
type Decision struct {
	// Key is the user: the single identity the login designates, else
	// Login.Key(); "" without login.
	Key string
	// Pool is the chosen pool ("" when none was chosen).
	Pool string
	// Ambiguous is set when a truncated login designated several users
	// that the rules send to different pools: the `ambiguous` policy
	// decided (counted by the appliance).
	Ambiguous bool
	// UnknownCollection is set when the request's tsv:// token names a
	// collection that no rule names: the unknown_collection policy decided
	// (Err wraps ErrUnknownCollection when it is reject).
	UnknownCollection bool
	// Affinity says how the user's affinity entry weighed (Affinity*
	// constants; AffinityNone without one).
	Affinity string
	// Learned is set for a request without cookie or usable token when
	// no_cookie is learned: LearnedOne (routed as the one login its
	// address presented within learn_window; Key is that user),
	// LearnedAmbiguous or LearnedNone (the rules, then the default pool).
	Learned string
	// Rule is the matching rule's name, or RuleDefault, RuleNoCookie,
	// RuleUnknownCollection or RuleMSTSToken.
	Rule string
	// Candidates is the try order: at most 1+Retries servers, all
	// available when the decision was made. Empty when Err is set.
	Candidates []*Server
	// Err is non-nil when the request is refused; it wraps ErrNoCookie,
	// ErrUnknownCollection, ErrTokenRefused, ErrNoServer or ErrAmbiguous.
	Err error
	// Why is one human sentence explaining the decision.
	Why string
}

// Decide routes req. It is a pure function of req and the current state
// of the table's servers: it neither blocks nor does I/O (beyond what the
// Directory does, which must serve from memory). Explain runs the same
// code and reports each step. Under no_cookie: learned it records the
// login of a request that has one for its client address (learn.go).
func (t *Table) Decide(req Request) Decision { return t.decide(req, nil) }

// decide is Decide, traced by x when x is not nil (Explain). With x set it
// writes nothing: no affinity entry is deleted and the balancing policy
// only peeks at its next order.
func (t *Table) decide(req Request, x *explainer) Decision {
	if req.Now.IsZero() {
		req.Now = t.now()
	}
	x.request(&req)
	if req.Token.Kind == rdp.TokenMSTS {
		return t.decideToken(&req)
	}
	d := Decision{Key: req.Login.Key()}
	// Past msts, the only usable token is tsv: no line, a blank cookie and
	// any other line yield no identity.
	noCookie := req.Login.IsZero() && req.Token.Kind != rdp.TokenTSV
	if noCookie && t.noCookieReject {
		return t.refuseNoCookie(&req, d)
	}
	learnedFrom := false
	if noCookie && t.learn != nil {
		req.Login, d.Learned = t.learned(&req, x)
		if learnedFrom = d.Learned == LearnedOne; learnedFrom {
			noCookie, d.Key = false, req.Login.Key()
		}
	}
	if req.Token.Kind == rdp.TokenTSV && !t.collectionNamed(req.Token.Collection) {
		d.UnknownCollection = true
		if t.unknownCollReject {
			return refuseUnknownCollection(&req, d)
		}
	}
	var ids []Identity
	if !req.Login.IsZero() {
		ids = t.dir.Resolve(req.Login)
	}
	pseudo := len(ids) == 0
	var one [1]Identity
	if pseudo {
		one[0].Key = req.Login.Name
		ids = one[:]
	} else if len(ids) == 1 {
		d.Key = ids[0].Key
	}
	x.identities(t.dir, ids, pseudo)
	if !learnedFrom {
		t.observe(&req, d.Key, x)
	}
	first := t.firstRule(&req, &ids[0], pseudo, x)
	agree := true
	for i := 1; i < len(ids) && agree; i++ {
		agree = t.poolOf(t.firstRule(&req, &ids[i], false, x)) == t.poolOf(first)
	}
	var b strings.Builder
	b.Grow(160)
	t.explainSubject(&b, &req, d.Key, noCookie)
	t.explainLearned(&b, &req, d.Learned)
	pool := t.poolOf(first)
	if agree {
		explainMatch(&b, first, pool)
	} else {
		d.Ambiguous = true
		t.explainAmbiguous(&b, &req, ids)
		switch t.ambiguous {
		case PolicyReject:
			d.Err = fmt.Errorf("%w: %q designates %d users routed to different pools", ErrAmbiguous, req.Login.Raw, len(ids))
			b.WriteString("; ambiguous is reject")
			d.Why = b.String()
			return d
		case PolicyFirst:
			b.WriteString("; ambiguous is first: ")
			b.WriteString(ids[0].Key)
			explainMatch(&b, first, pool)
		default:
			first, pool = nil, t.defaultPool
			b.WriteString("; ambiguous is default: default pool ")
			b.WriteString(pool.Name)
		}
	}
	d.Pool = pool.Name
	switch {
	case first != nil:
		d.Rule = first.name
	case noCookie:
		d.Rule = RuleNoCookie
	case d.UnknownCollection:
		d.Rule = RuleUnknownCollection
	default:
		d.Rule = RuleDefault
	}
	if t.aff != nil && d.Key != "" && t.decideAffinity(&req, &d, pool, &b, x) {
		d.Why = b.String()
		return d
	}
	var cands []*Server
	if x == nil {
		cands = pool.policy.Order(pool.Servers, req.Now, make([]*Server, 0, len(pool.Servers)))
	} else {
		cands = x.order(pool, req.Now)
	}
	if n := 1 + t.retries; len(cands) > n {
		cands = cands[:n:n]
	}
	if len(cands) == 0 {
		d.Err = fmt.Errorf("%w in pool %q", ErrNoServer, pool.Name)
		b.WriteString(", which has no available server (")
		b.WriteString(strconv.Itoa(len(pool.Servers)))
		b.WriteString(" configured)")
	} else {
		d.Candidates = cands
		b.WriteString(", try ")
		for i, s := range cands {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(s.Name)
		}
	}
	d.Why = b.String()
	return d
}

// refuseNoCookie is the no_cookie: reject decision for req.
func (t *Table) refuseNoCookie(req *Request, d Decision) Decision {
	d.Rule, d.Err = RuleNoCookie, ErrNoCookie
	d.Why = "no cookie or routing token, and no_cookie is reject"
	if req.Token.Kind == rdp.TokenOther {
		d.Err = fmt.Errorf("%w: line %q is neither", ErrNoCookie, req.Token.Raw)
		d.Why = "no cookie or usable routing token (line " + strconv.Quote(req.Token.Raw) + "), and no_cookie is reject"
	}
	return d
}

// refuseUnknownCollection is the unknown_collection: reject decision.
func refuseUnknownCollection(req *Request, d Decision) Decision {
	coll := strconv.Quote(req.Token.Collection)
	d.Rule = RuleUnknownCollection
	d.Err = fmt.Errorf("%w: %s", ErrUnknownCollection, coll)
	d.Why = "collection " + coll + " is named by no rule, and unknown_collection is reject"
	return d
}

// firstRule returns the first rule matching req for id, or nil; x, if
// not nil, is told about each rule tried.
func (t *Table) firstRule(req *Request, id *Identity, pseudo bool, x *explainer) *rule {
	for _, r := range t.rules {
		miss := r.miss(req, id, pseudo)
		x.step(r, req, id, miss)
		if miss == matched {
			return r
		}
	}
	return nil
}

// poolOf is the pool r sends to: the default pool when r is nil.
func (t *Table) poolOf(r *rule) *Pool {
	if r == nil {
		return t.defaultPool
	}
	return r.pool
}

// explainSubject writes what is being routed: the login, or the routing
// token, or the lack of both.
func (t *Table) explainSubject(b *strings.Builder, req *Request, key string, noCookie bool) {
	switch {
	case key != "":
		b.WriteString("login ")
		b.WriteString(key)
		if key != req.Login.Name || req.Login.MaybeTruncated {
			b.WriteString(" (cookie ")
			b.WriteString(strconv.Quote(req.Login.Raw))
			b.WriteString(")")
		}
	case noCookie && req.Token.Kind == rdp.TokenOther:
		b.WriteString("request without cookie or usable routing token (line ")
		b.WriteString(strconv.Quote(req.Token.Raw))
		b.WriteString(")")
	case noCookie:
		b.WriteString("request without cookie or routing token")
	case req.Token.Kind == rdp.TokenTSV:
		b.WriteString("collection ")
		b.WriteString(strconv.Quote(req.Token.Collection))
		if !t.collectionNamed(req.Token.Collection) {
			b.WriteString(" (named by no rule)")
		}
	default:
		b.WriteString(req.Token.Kind.String())
		b.WriteString(" routing token ")
		b.WriteString(strconv.Quote(req.Token.Raw))
	}
}

// explainLearned writes, under no_cookie: learned, what the client's
// address taught (outcome is Decision.Learned; "" writes nothing).
func (t *Table) explainLearned(b *strings.Builder, req *Request, outcome string) {
	if outcome == "" {
		return
	}
	var buf [48]byte
	switch outcome {
	case LearnedOne:
		b.WriteString(" (no cookie: learned, the only login ")
	case LearnedAmbiguous:
		b.WriteString(" (no_cookie learned: several logins ")
	default:
		b.WriteString(" (no_cookie learned: no login ")
	}
	b.WriteString("from ")
	b.Write(req.Client.AppendTo(buf[:0]))
	b.WriteString(" within learn_window)")
}

// explainMatch writes which rule matched (with the criteria it has) and
// the pool it sends to, or that none did.
func explainMatch(b *strings.Builder, r *rule, pool *Pool) {
	if r == nil {
		b.WriteString(" matched no rule: default pool ")
		b.WriteString(pool.Name)
		return
	}
	b.WriteString(" matched rule \"")
	b.WriteString(r.name)
	b.WriteString("\" (")
	b.WriteString(r.criteria)
	b.WriteString("): pool ")
	b.WriteString(pool.Name)
}

func (t *Table) explainAmbiguous(b *strings.Builder, req *Request, ids []Identity) {
	b.WriteString(" may be truncated and designates ")
	b.WriteString(strconv.Itoa(len(ids)))
	b.WriteString(" users routed to different pools (")
	for i := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ids[i].Key)
		b.WriteString(" -> ")
		b.WriteString(t.poolOf(t.firstRule(req, &ids[i], false, nil)).Name)
	}
	b.WriteString(")")
}

// decideToken honours an msts routing token only when it names a
// configured server that can take the user: never another address.
func (t *Table) decideToken(req *Request) Decision {
	d := Decision{Key: req.Login.Key(), Rule: RuleMSTSToken}
	ap := req.Token.Addr
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	s := t.ServerByAddr(ap)
	if s == nil {
		d.Err = fmt.Errorf("%w: %s is not a configured server", ErrTokenRefused, ap)
		d.Why = "msts routing token names " + ap.String() + ", which is not a configured server"
		return d
	}
	d.Pool = s.Pool
	if reason := s.unavailable(req.Now, true); reason != "" {
		d.Err = fmt.Errorf("%w: server %s (%s) is %s", ErrTokenRefused, s.Name, s.Address, reason)
		d.Why = "msts routing token names server " + s.Name + " (" + s.Address + "), which is " + reason
		return d
	}
	d.Candidates = []*Server{s}
	d.Why = "msts routing token names server " + s.Name + " (" + s.Address + ")"
	return d
}

// unavailable says why s cannot take a new user ("" when it can). With
// token set, a drained server can (a redirected reconnection).
func (s *Server) unavailable(now time.Time, token bool) string {
	switch a := s.AdminState(); {
	case !s.Healthy():
		return "down"
	case a == Maintenance || (a == Drain && !token):
		return "in " + a.String()
	case s.full():
		return "full"
	case s.passivelyFailed(now):
		return "failing connects"
	}
	return ""
}
