package routing

import (
	"net/netip"
	"sync"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// no_cookie: learned. Clients that send no cookie (mstsc with saved
// credentials, the Windows App, some thin clients) are routed as the one
// login their address presented a cookie for within learn_window: a user
// whose client sends a cookie on one connection and none on the next
// (reconnection) goes back to their server. Several logins from the
// address (a NAT, a terminal server of clients) -> the no-cookie policy.

// Learned outcomes (Decision.Learned) of a request without cookie or
// usable token under no_cookie: learned; the appliance counts them.
const (
	// LearnedOne: the address presented cookies of exactly one login
	// within learn_window; the request was routed as that login.
	LearnedOne = "learned"
	// LearnedAmbiguous: several logins; the rules, then the default pool.
	LearnedAmbiguous = "ambiguous"
	// LearnedNone: no login; the rules, then the default pool.
	LearnedNone = "none"
)

// Learner defaults.
const (
	// DefaultLearnWindow is Config.LearnWindow.
	DefaultLearnWindow = 10 * time.Minute
	// LearnMaxAddrs caps the addresses a Learner remembers; beyond it the
	// address observed least recently is forgotten.
	LearnMaxAddrs = 1 << 16
	// learnPerAddr is how many distinct logins are kept per address: two
	// decide every outcome (dropping the oldest of three never turns
	// "several" into "one" within the window, as the two kept are newer).
	learnPerAddr = 2
)

// Learner remembers, per client address (an IPv4 /32 or IPv6 /128: one
// host), the logins it presented cookies for and when. Tables compiled
// with no_cookie: learned observe every decision with a login and look up
// requests without one; a reload hands the Learner to the new table. It
// holds at most LearnMaxAddrs addresses (least recently observed
// forgotten first) and forgets an address learn_window after its last
// cookie. Safe for concurrent use.
type Learner struct {
	max int

	mu         sync.Mutex // protects following fields
	byAddr     map[netip.Addr]*learnAddr
	head, tail *learnAddr // by last observation, head newest
	free       *learnAddr // one evicted entry kept for reuse
}

// learnAddr is one address's recent logins, most recent first.
type learnAddr struct {
	addr       netip.Addr
	logins     [learnPerAddr]learnedLogin
	n          int
	prev, next *learnAddr
}

type learnedLogin struct {
	key   string // Decision.Key: distinct users
	login rdp.Login
	seen  int64 // unix nanoseconds of the last cookie
}

// NewLearner returns an empty Learner remembering at most max addresses
// (LearnMaxAddrs when max <= 0).
func NewLearner(max int) *Learner {
	if max <= 0 {
		max = LearnMaxAddrs
	}
	return &Learner{max: max, byAddr: make(map[netip.Addr]*learnAddr)}
}

// Observe records that addr presented a cookie for login (whose user is
// key) at now, and forgets what is older than window. It allocates only
// for an address it does not hold.
func (l *Learner) Observe(addr netip.Addr, key string, login rdp.Login, now time.Time, window time.Duration) {
	if !addr.IsValid() || key == "" {
		return
	}
	addr = addr.Unmap()
	at := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expireLocked(at - int64(window))
	e := l.byAddr[addr]
	if e == nil {
		e = l.newLocked(addr)
	} else {
		l.unlinkLocked(e)
	}
	l.pushLocked(e)
	e.add(learnedLogin{key: key, login: login, seen: at})
}

// add puts ll first, dropping the login's older record or, when full,
// the oldest login.
func (e *learnAddr) add(ll learnedLogin) {
	i := 0
	for i < e.n && e.logins[i].key != ll.key {
		i++
	}
	if i == e.n { // a new login
		if e.n < learnPerAddr {
			e.n++
		}
		i = e.n - 1
	}
	copy(e.logins[1:i+1], e.logins[:i])
	e.logins[0] = ll
}

// Lookup returns how many distinct logins addr presented cookies for in
// (now-window, now], and the most recent one. It never allocates.
func (l *Learner) Lookup(addr netip.Addr, now time.Time, window time.Duration) (n int, login rdp.Login, key string) {
	if !addr.IsValid() {
		return 0, rdp.Login{}, ""
	}
	since := now.UnixNano() - int64(window)
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.byAddr[addr.Unmap()]
	if e == nil {
		return 0, rdp.Login{}, ""
	}
	for i := 0; i < e.n; i++ {
		if e.logins[i].seen > since {
			n++
		}
	}
	if n == 0 {
		return 0, rdp.Login{}, ""
	}
	return n, e.logins[0].login, e.logins[0].key
}

// Logins returns the users (Decision.Key) addr presented cookies for in
// (now-window, now], most recent first (at most two are kept).
func (l *Learner) Logins(addr netip.Addr, now time.Time, window time.Duration) []string {
	since := now.UnixNano() - int64(window)
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	if e := l.byAddr[addr.Unmap()]; e != nil {
		for i := 0; i < e.n; i++ {
			if e.logins[i].seen > since {
				out = append(out, e.logins[i].key)
			}
		}
	}
	return out
}

// Len is the number of addresses remembered.
func (l *Learner) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byAddr)
}

// expireLocked forgets the addresses whose last cookie is not after
// since: they sit at the tail.
func (l *Learner) expireLocked(since int64) {
	for l.tail != nil && l.tail.logins[0].seen <= since {
		l.dropLocked(l.tail)
	}
}

// newLocked returns an entry for addr, making room when full.
func (l *Learner) newLocked(addr netip.Addr) *learnAddr {
	for len(l.byAddr) >= l.max && l.tail != nil {
		l.dropLocked(l.tail)
	}
	e := l.free
	if e != nil {
		l.free = nil
		*e = learnAddr{}
	} else {
		e = new(learnAddr)
	}
	e.addr = addr
	l.byAddr[addr] = e
	return e
}

func (l *Learner) dropLocked(e *learnAddr) {
	l.unlinkLocked(e)
	delete(l.byAddr, e.addr)
	l.free = e
}

func (l *Learner) pushLocked(e *learnAddr) {
	e.prev, e.next = nil, l.head
	if l.head != nil {
		l.head.prev = e
	}
	l.head = e
	if l.tail == nil {
		l.tail = e
	}
}

func (l *Learner) unlinkLocked(e *learnAddr) {
	if e.prev != nil {
		e.prev.next = e.next
	} else if l.head == e {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else if l.tail == e {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// learnPolicy is a table's no_cookie: learned: the Learner (shared with
// the tables before and after a reload) and the table's window.
type learnPolicy struct {
	l      *Learner
	window time.Duration
}

// Learner returns the table's Learner; nil unless no_cookie is learned.
func (t *Table) Learner() *Learner {
	if t.learn == nil {
		return nil
	}
	return t.learn.l
}

// observe records the login of a request that presented one (not on
// Explain's path: x set).
func (t *Table) observe(req *Request, key string, x *explainer) {
	if t.learn == nil || x != nil || key == "" {
		return
	}
	t.learn.l.Observe(req.Client, key, req.Login, req.Now, t.learn.window)
}

// learned looks up a request without cookie or usable token: with
// exactly one login learned for its address it returns that login (the
// request is routed as it), else the zero Login. The outcome is one of
// the Learned* constants.
func (t *Table) learned(req *Request, x *explainer) (rdp.Login, string) {
	n, login, key := t.learn.l.Lookup(req.Client, req.Now, t.learn.window)
	outcome := LearnedNone
	switch {
	case n == 1:
		outcome = LearnedOne
	case n > 1:
		outcome = LearnedAmbiguous
		login = rdp.Login{}
	}
	x.learned(t, req, outcome, key)
	return login, outcome
}

// compileLearn returns the learned policy of a table: prev's Learner when
// it had one, so a reload keeps what was learned.
func compileLearn(window time.Duration, prev *Table) *learnPolicy {
	if window <= 0 {
		window = DefaultLearnWindow
	}
	if prev != nil && prev.learn != nil {
		return &learnPolicy{l: prev.learn.l, window: window}
	}
	return &learnPolicy{l: NewLearner(0), window: window}
}
