package routing

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// why says in a sentence why r matched req for id, or which criterion
// failed (miss) and how. Only Explain calls it.
func (r *rule) why(req *Request, id *Identity, miss criterion) string {
	switch miss {
	case matched:
		return "matched (" + r.criteria + ")"
	case missCollection:
		if req.Token.Kind != rdp.TokenTSV {
			return "the request names no RDS collection; the rule wants " + strconv.Quote(r.collection)
		}
		return "collection " + strconv.Quote(rdp.DecodeCookie(req.Token.Collection)) + " is not " + strconv.Quote(r.collection)
	case missNetwork:
		if !req.Client.IsValid() {
			return "client address unknown; the rule wants " + joinPrefixes(r)
		}
		return "client " + req.Client.Unmap().String() + " is not in " + joinPrefixes(r)
	case missTime:
		at := req.Now.In(r.window.loc)
		return at.Format("Mon 15:04 MST") + " is outside " + r.window.String()
	case missLogin:
		if id.Key == "" {
			return "the request has no login; the rule lists " + plural(len(r.loginList), "login")
		}
		return "login " + id.Key + " is not among the rule's " + plural(len(r.loginList), "login")
	case missGroup:
		who := "login " + id.Key
		if id.Key == "" {
			who = "the request (no login)"
		}
		if len(id.Groups) == 0 {
			return who + " is in no group; the rule wants " + strings.Join(r.groups, ", ")
		}
		return who + " is in " + strings.Join(id.Groups, ", ") + ", none of " + strings.Join(r.groups, ", ")
	}
	return miss.String()
}

func joinPrefixes(r *rule) string {
	s := make([]string, len(r.networks))
	for i, p := range r.networks {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// String describes the window: "mon,tue,wed,thu,fri 20:00-06:00 Local".
func (w *timeWindow) String() string {
	var days []string
	for d := range 7 {
		if w.day(time.Weekday(d)) {
			days = append(days, weekdays[d])
		}
	}
	span := fmt.Sprintf("%02d:%02d-%02d:%02d", w.from/60, w.from%60, w.to/60, w.to%60)
	if w.from == w.to {
		span = "all day"
	}
	return strings.Join(days, ",") + " " + span + " " + w.loc.String()
}
