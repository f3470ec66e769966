package routing

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// rule is a compiled RuleConfig.
type rule struct {
	name     string
	pool     *Pool
	criteria string // the criteria it has, for Decision.Why: "logins+networks"

	hasLogins  bool
	loginSet   map[string]struct{} // normalised names
	loginList  []string            // the same, sorted (prefix match of truncated unknown logins)
	groups     []string            // lower-cased
	networks   []netip.Prefix
	collection string
	window     *timeWindow
}

// criterion is the criterion of a rule that did not match (matched: none).
type criterion uint8

const (
	matched criterion = iota
	missCollection
	missNetwork
	missTime
	missLogin
	missGroup
)

// String returns the criterion's name as Step.Failed reports it.
func (c criterion) String() string {
	return [...]string{"", "collection", "network", "time", "login", "group"}[c]
}

// miss returns the first criterion of the rule that req does not meet for
// id, or matched. pseudo says id is not a directory identity but the login
// itself (the directory does not know it): then a truncated login also
// matches the listed logins it prefixes.
func (r *rule) miss(req *Request, id *Identity, pseudo bool) criterion {
	switch {
	case r.collection != "" && (req.Token.Kind != rdp.TokenTSV || !collectionIs(req.Token.Collection, r.collection)):
		return missCollection
	case r.networks != nil && !containsAddr(r.networks, req.Client):
		return missNetwork
	case r.window != nil && !r.window.contains(req.Now):
		return missTime
	case r.hasLogins && !r.matchLogin(req.Login, id.Key, pseudo):
		return missLogin
	case r.groups != nil && !inGroups(id.Groups, r.groups):
		return missGroup
	}
	return matched
}

// collectionIs reports whether the collection a tsv token names (bytes,
// decoded like a cookie: UTF-8, else Windows-1252) is name, ignoring case.
func collectionIs(sent, name string) bool {
	return strings.EqualFold(rdp.DecodeCookie(sent), name)
}

// collectionNamed reports whether some rule names the collection sent.
func (t *Table) collectionNamed(sent string) bool {
	for _, r := range t.rules {
		if r.collection != "" && collectionIs(sent, r.collection) {
			return true
		}
	}
	return false
}

func (r *rule) matchLogin(login rdp.Login, key string, pseudo bool) bool {
	if key == "" {
		return false
	}
	if _, ok := r.loginSet[key]; ok {
		return true
	}
	if !pseudo || !login.MaybeTruncated {
		return false
	}
	i, _ := slices.BinarySearch(r.loginList, login.Name)
	return i < len(r.loginList) && login.Matches(r.loginList[i])
}

func containsAddr(nets []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// inGroups reports whether any of have is in want (lower-cased).
func inGroups(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if strings.EqualFold(h, w) {
				return true
			}
		}
	}
	return false
}

// parseNetwork parses a CIDR or a single IP address.
func parseNetwork(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// timeWindow is a compiled TimeWindowConfig.
type timeWindow struct {
	days     uint8 // bit per time.Weekday
	from, to int   // minutes after midnight; from == to is the whole day
	loc      *time.Location
}

func (w *timeWindow) day(d time.Weekday) bool { return w.days&(1<<d) != 0 }

// contains reports whether t falls in the window.
func (w *timeWindow) contains(t time.Time) bool {
	t = t.In(w.loc)
	m, d := t.Hour()*60+t.Minute(), t.Weekday()
	switch {
	case w.from == w.to:
		return w.day(d)
	case w.from < w.to:
		return w.day(d) && m >= w.from && m < w.to
	case m >= w.from: // crosses midnight: evening part
		return w.day(d)
	case m < w.to: // morning part belongs to the previous day's window
		return w.day((d + 6) % 7)
	}
	return false
}

var weekdays = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseWeekday(s string) (time.Weekday, bool) {
	i := slices.Index(weekdays[:], strings.ToLower(strings.TrimSpace(s)))
	return time.Weekday(i), i >= 0
}

// compileWindow compiles c; problems are reported through bad with keys
// relative to key ("rules[0].time").
func compileWindow(c *TimeWindowConfig, key string, bad func(key, format string, args ...any)) *timeWindow {
	w := &timeWindow{loc: time.Local}
	ok := true
	if len(c.Days) == 0 {
		w.days = 0x7f
	}
	for i, d := range c.Days {
		lo, hi, isRange := strings.Cut(d, "-")
		a, okA := parseWeekday(lo)
		b, okB := a, okA
		if isRange {
			b, okB = parseWeekday(hi)
		}
		if !okA || !okB {
			bad(fmt.Sprintf("%s.days[%d]", key, i), "%q: must be mon..sun or a range such as mon-fri", d)
			ok = false
			continue
		}
		for x := a; ; x = (x + 1) % 7 {
			w.days |= 1 << x
			if x == b {
				break
			}
		}
	}
	var err error
	if w.from, err = parseClock(c.From, false); err != nil {
		bad(key+".from", "%q: %v", c.From, err)
		ok = false
	}
	if w.to, err = parseClock(c.To, true); err != nil {
		bad(key+".to", "%q: %v", c.To, err)
		ok = false
	}
	if w.to == 24*60 && w.from == 0 {
		w.to = 0 // 00:00-24:00 is the whole day
	}
	if c.Location != "" {
		if w.loc, err = time.LoadLocation(c.Location); err != nil {
			bad(key+".location", "%q: %v", c.Location, err)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return w
}

// parseClock parses "HH:MM" ("" = 00:00; "24:00" only when end is set)
// into minutes after midnight.
func parseClock(s string, end bool) (int, error) {
	if s == "" {
		return 0, nil
	}
	hs, ms, ok := strings.Cut(s, ":")
	h, errH := strconv.Atoi(hs)
	m, errM := strconv.Atoi(ms)
	if !ok || errH != nil || errM != nil || len(hs) > 2 || len(ms) != 2 || h < 0 || m < 0 || m > 59 ||
		h > 24 || (h == 24 && (m != 0 || !end)) {
		if end {
			return 0, fmt.Errorf("must be HH:MM, 00:00 to 24:00")
		}
		return 0, fmt.Errorf("must be HH:MM, 00:00 to 23:59")
	}
	return h*60 + m, nil
}
