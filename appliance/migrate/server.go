package migrate

import (
	"strconv"
	"time"
)

// srvOpts are a server line's (or default-server's) settings; -1 and 0
// durations mean "not set".
type srvOpts struct {
	weight, maxconn, rise, fall, port, id int
	inter                                 time.Duration
	check, backup, disabled               bool
}

func unsetOpts() srvOpts { return srvOpts{weight: -1, maxconn: -1, rise: -1, fall: -1, port: -1} }

// srvDecl is one server line.
type srvDecl struct {
	name, addr string
	line       int
	opts       srvOpts
}

// srvArgKeys are server options that take an argument.
var srvArgKeys = map[string]bool{
	"weight": true, "maxconn": true, "inter": true, "fastinter": true, "downinter": true, "rise": true,
	"fall": true, "id": true, "port": true, "addr": true, "slowstart": true, "cookie": true, "maxqueue": true,
	"minconn": true, "on-error": true, "on-marked-down": true, "on-marked-up": true, "error-limit": true,
	"observe": true, "resolvers": true, "resolve-prefer": true, "resolve-opts": true, "resolve-net": true,
	"init-addr": true, "check-sni": true, "sni": true, "ca-file": true, "crt": true, "crl-file": true,
	"ciphers": true, "ciphersuites": true, "source": true, "proto": true, "alpn": true, "check-alpn": true,
	"npn": true, "pool-low-conn": true, "pool-max-conn": true, "pool-purge-delay": true, "track": true,
	"agent-port": true, "agent-inter": true, "agent-send": true, "agent-addr": true, "redir": true,
	"namespace": true, "tcp-ut": true, "usesrc": true, "hash-key": true, "log-proto": true,
	"proxy-v2-options": true, "max-reuse": true, "verify": true, "verifyhost": true, "ssl-min-ver": true,
	"ssl-max-ver": true, "socks4": true, "shard": true, "check-proto": true, "init-state": true,
}

// serverOpts applies the options words to o, reporting those it cannot
// translate; what is the directive ("server TS01", "default-server").
func (t *translator) serverOpts(line int, what string, words []string, o *srvOpts) {
	num := func(key, v string, dst *int, max int) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > max {
			t.ws.warn(line, "%s: %s %q: not a number in 0..%d: ignored", what, key, v, max)
			return
		}
		*dst = n
	}
	for i := 0; i < len(words); i++ {
		key, val := words[i], ""
		if srvArgKeys[key] {
			if i+1 >= len(words) {
				t.ws.warn(line, "%s: %s without a value: ignored", what, key)
				return
			}
			i++
			val = words[i]
		}
		switch key {
		case "weight":
			num(key, val, &o.weight, 256)
		case "maxconn":
			num(key, val, &o.maxconn, 1<<30)
		case "rise":
			num(key, val, &o.rise, 1<<20)
		case "fall":
			num(key, val, &o.fall, 1<<20)
		case "id":
			num(key, val, &o.id, 1<<30)
		case "port":
			num(key, val, &o.port, 65535)
		case "inter":
			d, err := parseDuration(val)
			if err != nil || d <= 0 {
				t.ws.warn(line, "%s: inter %q: not a positive time: ignored", what, val)
				continue
			}
			o.inter = d
		case "check":
			o.check = true
		case "no-check":
			o.check = false
		case "backup":
			o.backup = true
		case "disabled":
			o.disabled = true
		case "enabled":
			o.disabled = false
		case "fastinter", "downinter", "slowstart", "error-limit", "on-error", "observe", "on-marked-down", "on-marked-up":
			t.ws.warn(line, "%s: %s %s: not translated (rdpbroker's checks run every interval, up after rise, down after fall; failed connects mark a server down for passive.fail_timeout)", what, key, val)
		case "send-proxy", "send-proxy-v2", "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn":
			t.ws.warn(line, "%s: %s: rdpbroker does not send a PROXY header: a server that expects one will refuse the connections", what, key)
		default:
			if val != "" {
				key += " " + val
			}
			t.ws.warn(line, "%s: option %q: not translated", what, key)
		}
	}
}

// overlay returns def with the fields o sets.
func overlay(def, o srvOpts, words []string) srvOpts {
	out := def
	if o.weight >= 0 {
		out.weight = o.weight
	}
	if o.maxconn >= 0 {
		out.maxconn = o.maxconn
	}
	if o.rise >= 0 {
		out.rise = o.rise
	}
	if o.fall >= 0 {
		out.fall = o.fall
	}
	if o.port >= 0 {
		out.port = o.port
	}
	if o.inter > 0 {
		out.inter = o.inter
	}
	if o.id > 0 {
		out.id = o.id
	}
	for _, w := range words { // flags: set or cleared explicitly
		switch w {
		case "check":
			out.check = true
		case "no-check":
			out.check = false
		case "backup":
			out.backup = true
		case "disabled":
			out.disabled = true
		case "enabled":
			out.disabled = false
		}
	}
	return out
}

// assignIDs gives servers without an id HAProxy's automatic one: in
// declaration order, the next id from 1 not taken by an explicit id.
func assignIDs(servers []srvDecl) []int {
	used := map[int]bool{}
	for _, s := range servers {
		if s.opts.id > 0 {
			used[s.opts.id] = true
		}
	}
	ids := make([]int, len(servers))
	next := 1
	for i, s := range servers {
		if s.opts.id > 0 {
			ids[i] = s.opts.id
		} else {
			for used[next] {
				next++
			}
			ids[i] = next
			used[next] = true
		}
		next++
	}
	return ids
}
