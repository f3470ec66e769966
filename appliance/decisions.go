package appliance

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/routing"
)

// Cookie kinds: what identified the client in its first packet.
const (
	CookieFull      = "full"      // an mstshash cookie naming a login
	CookieTruncated = "truncated" // a cookie mstsc may have cut (resolved by prefix)
	CookieNone      = "none"      // no cookie and no routing token
	CookieToken     = "token"     // a routing token (msts, tsv)
)

// decisionCounts counts decisions by (rule, pool) and first packets by
// cookie kind. Rules and pools come from the configuration, so the label
// sets stay bounded; no login or address is ever a key.
type decisionCounts struct {
	byRule  sync.Map // decisionKey -> *atomic.Uint64
	cookies [4]atomic.Uint64
}

type decisionKey struct{ rule, pool string }

var cookieKinds = [4]string{CookieFull, CookieTruncated, CookieNone, CookieToken}

func (d *decisionCounts) count(req rdp.ConnRequest, login rdp.Login, dec routing.Decision) {
	d.cookies[cookieKind(req, login)].Add(1)
	k := decisionKey{dec.Rule, dec.Pool}
	v, ok := d.byRule.Load(k)
	if !ok {
		v, _ = d.byRule.LoadOrStore(k, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

func cookieKind(req rdp.ConnRequest, login rdp.Login) int {
	switch {
	case req.Cookie != "" && login.MaybeTruncated:
		return 1
	case req.Cookie != "":
		return 0
	case req.Token.Kind != rdp.TokenNone && req.Token.Kind != rdp.TokenCookie:
		return 3
	}
	return 2
}

// Decision is how many decisions one rule sent to one pool.
type Decision struct {
	Rule, Pool string
	Count      uint64
}

// Decisions returns the decision counts by rule and pool, sorted.
func (c *Counters) Decisions() []Decision {
	var out []Decision
	c.decisions.byRule.Range(func(k, v any) bool {
		dk := k.(decisionKey)
		out = append(out, Decision{Rule: dk.rule, Pool: dk.pool, Count: v.(*atomic.Uint64).Load()})
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Pool < out[j].Pool
	})
	return out
}

// Cookies returns how many first packets carried each kind of identity.
func (c *Counters) Cookies() map[string]uint64 {
	m := make(map[string]uint64, len(cookieKinds))
	for i, k := range cookieKinds {
		m[k] = c.decisions.cookies[i].Load()
	}
	return m
}
