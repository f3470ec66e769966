package migrate

import (
	"fmt"
	"strings"
	"time"
)

// stickTable translates the table's expire into affinity.expire.
func (t *translator) stickTable(b *backendState, d Directive) {
	args := d.Args()
	var expire time.Duration
	for i := 0; i+1 < len(args); i += 2 {
		switch k, v := args[i], args[i+1]; k {
		case "type":
			if v != "string" {
				t.ws.warn(d.Line, "stick-table type %s: rdpbroker keys affinity by login (the cookie), not by %s", v, v)
			}
		case "expire":
			e, err := parseDuration(v)
			if err != nil {
				t.ws.warn(d.Line, "stick-table expire %s: %v: ignored", v, err)
				continue
			}
			expire = e
		case "peers":
			t.ws.warn(d.Line, "stick-table peers %s: not translated: configure rdpbroker's peers section to replicate the affinity table", v)
		case "len", "size", "store", "nopurge", "srvkey", "write-to":
			if k == "nopurge" {
				i-- // no value
			}
		default:
			t.ws.warn(d.Line, "stick-table %s %s: not translated", k, v)
		}
	}
	if expire == 0 {
		t.ws.warn(d.Line, "stick-table without expire: HAProxy kept entries until the table was full; rdpbroker entries expire: affinity.expire %s", defaultExpire)
		expire = defaultExpire
	}
	if t.o.expire != 0 && t.o.expire != expire {
		t.ws.warn(d.Line, "stick-table expire %s: rdpbroker has one affinity.expire: the longest, %s, is used", expire, max(expire, t.o.expire))
	}
	if expire > t.o.expire {
		t.o.expire, t.o.expireFrom = expire, fmt.Sprintf("%s:%d %s", t.cfg.File, d.Line, d.String())
	}
}

// defaultExpire is rdpbroker's affinity.expire default.
const defaultExpire = 8 * time.Hour

// stick translates the first stick rule of a backend: what it keys the
// table by.
func (t *translator) stick(b *backendState, d Directive) {
	args := d.Args()
	if d.Keyword() == "stick" && len(args) > 0 {
		if args[0] == "store-response" {
			t.ws.warn(d.Line, "%q: not translated", d.String())
			return
		}
		args = args[1:] // on, match, store-request
	}
	if len(args) == 0 {
		t.ws.warn(d.Line, "%q: no pattern: ignored", d.String())
		return
	}
	if b.be.StickLine != 0 {
		t.ws.note(d.Line, "%q: HAProxy stores only the first stick rule's key per table (line %d), so this one found nothing: rdpbroker keys affinity by whole login", d.String(), b.be.StickLine)
		return
	}
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "table":
			if i+1 < len(args) && args[i+1] != b.s.Name {
				t.ws.warn(d.Line, "%q: the table of another backend: rdpbroker has one affinity table for every pool", d.String())
			}
			i++
		case "if", "unless":
			t.ws.warn(d.Line, "%q: a conditional stick rule: rdpbroker keeps every user's server", d.String())
			i = len(args)
		}
	}
	kind, n, _, why := criterion(args[0])
	switch kind {
	case kindLogin:
		b.be.StickLine, b.be.StickTruncate = d.Line, n
		if n > 0 {
			t.ws.warn(d.Line, "%q: HAProxy kept one server per %d-byte login prefix (users sharing one shared a server); rdpbroker keeps one per login. Table keys of %d bytes are seeded for themselves and for the known logins they start", d.String(), n, n)
		}
	case kindNetwork:
		t.ws.warn(d.Line, "%q: HAProxy stuck client addresses to servers; rdpbroker keys affinity by login: not seeded", d.String())
	default:
		t.ws.warn(d.Line, "%q: %s: not translated; rdpbroker keys affinity by login", d.String(), strings.TrimSpace(why))
	}
}
