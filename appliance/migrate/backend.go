package migrate

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/routing"
)

// HAProxy's defaults for what a backend does not set.
const (
	haproxyInter = 2 * time.Second
	haproxyRise  = 2
	haproxyFall  = 3
)

// backendState collects one backend's directives.
type backendState struct {
	s                     *Section
	balance               string
	balanceLine           int
	tcpCheckPort          int
	tcpCheckLine          int
	connect, checkTimeout time.Duration
	def                   srvOpts
	servers               []srvDecl
	be                    *Backend
}

// backend translates a backend (or listen) section into a pool.
func (t *translator) backend(s *Section) error {
	b := &backendState{s: s, balance: "roundrobin", def: unsetOpts(), tcpCheckPort: -1,
		be: &Backend{Name: s.Name, Line: s.Line}}
	for _, d := range t.inherited(s) {
		own := d.Line >= s.Line
		if frontendKeys[d.Keyword()] || (!own && !backendKeys[d.Keyword()] && t.frontendOnly(d)) {
			continue // the frontend's
		}
		if t.common(d) {
			continue
		}
		t.backendDirective(b, d)
	}
	if len(b.servers) == 0 {
		t.ws.warn(s.Line, "backend %s has no server: no pool", s.Name)
		return nil
	}
	t.res.Backends[s.Name] = b.be
	t.o.pools = append(t.o.pools, t.pool(b))
	return nil
}

// frontendOnly reports the defaults lines only a frontend uses.
func (t *translator) frontendOnly(d Directive) bool {
	return d.Keyword() == "timeout" && len(d.Args()) > 0 && d.Args()[0] == "client"
}

func (t *translator) backendDirective(b *backendState, d Directive) {
	args := d.Args()
	switch kw := d.Keyword(); {
	case kw == "balance" && len(args) > 0:
		b.balance, b.balanceLine = args[0], d.Line
	case kw == "server" && len(args) >= 2:
		o := unsetOpts()
		t.serverOpts(d.Line, "server "+args[0], args[2:], &o)
		b.servers = append(b.servers, srvDecl{name: args[0], addr: args[1], line: d.Line, opts: overlay(b.def, o, args[2:])})
	case kw == "default-server":
		o := unsetOpts()
		t.serverOpts(d.Line, "default-server", args, &o)
		b.def = overlay(b.def, o, args)
	case kw == "timeout" && len(args) == 2 && (args[0] == "connect" || args[0] == "check"):
		v, err := parseDuration(args[1])
		if err != nil || v <= 0 {
			t.ws.warn(d.Line, "%q: %v: ignored", d.String(), err)
			return
		}
		if args[0] == "connect" {
			b.connect = v
			t.connectTimeout(d, v)
		} else {
			b.checkTimeout = v
		}
	case kw == "option" && len(args) == 1 && args[0] == "tcp-check":
	case kw == "option" && len(args) > 0 && strings.HasSuffix(args[0], "chk") || kw == "option" && len(args) > 0 && strings.HasSuffix(args[0], "-check"):
		t.ws.warn(d.Line, "%q: rdpbroker checks with a TCP connect here (check: tcp; check: rdp sends an RDP connection request)", d.String())
	case kw == "tcp-check":
		t.tcpCheck(b, d)
	case kw == "stick-table":
		t.stickTable(b, d)
	case kw == "stick" || kw == "stick-on":
		t.stick(b, d)
	case kw == "persist" && strings.Join(args, " ") == "rdp-cookie":
		t.ws.note(d.Line, "%q: rdpbroker honours msts routing tokens (reconnections redirected by a session broker) by itself", d.String())
	case kw == "retries" || kw == "option" && len(args) == 1 && args[0] == "redispatch":
		t.ws.note(d.Line, "%q: rdpbroker retries a failed connect on the next servers of the pool (retries, default 2)", d.String())
	case kw == "hash-type" || kw == "fullconn":
		t.ws.note(d.Line, "%q: no effect with leastconn or roundrobin: ignored", d.String())
	default:
		t.ws.warn(d.Line, "%q: not translated", d.String())
	}
}

// connectTimeout keeps the longest backend connect timeout (rdpbroker has
// one, connect_timeout).
func (t *translator) connectTimeout(d Directive, v time.Duration) {
	if t.o.connect != 0 && t.o.connect != v {
		t.ws.warn(d.Line, "%q: rdpbroker has one connect_timeout for every pool: the longest, %s, is used", d.String(), max(v, t.o.connect))
	}
	t.o.connect = max(t.o.connect, v)
}

func (t *translator) tcpCheck(b *backendState, d Directive) {
	args := d.Args()
	if len(args) >= 1 && args[0] == "connect" {
		if len(args) == 3 && args[1] == "port" {
			if p, err := strconv.Atoi(args[2]); err == nil {
				b.tcpCheckPort, b.tcpCheckLine = p, d.Line
				return
			}
		}
		if len(args) == 1 {
			return
		}
	}
	t.ws.warn(d.Line, "%q: custom check sequences are not translated: rdpbroker checks with a TCP connect (check: rdp would send an RDP connection request)", d.String())
}

// pool builds the pool of backend b.
func (t *translator) pool(b *backendState) pool {
	p := pool{PoolConfig: routing.PoolConfig{Name: b.s.Name}, from: fmt.Sprintf("backend %s, %s:%d", b.s.Name, t.cfg.File, b.s.Line)}
	switch b.balance {
	case "leastconn", "roundrobin":
		p.Balance = b.balance
	case "static-rr":
		p.Balance = "roundrobin"
		t.ws.note(b.balanceLine, "balance static-rr: roundrobin (weights change only by reload in rdpbroker too)")
	default:
		p.Balance = "leastconn"
		t.ws.warn(b.balanceLine, "balance %s: not translated: leastconn", b.balance)
	}
	ids := assignIDs(b.servers)
	var checked, unchecked []string
	var first *srvOpts
	for i, sd := range b.servers {
		bs := BackendServer{HAProxyName: sd.name, ID: ids[i]}
		if sc, ok := t.server(b, sd); ok {
			bs.Name = sc.Name
			p.Servers = append(p.Servers, sc)
			if sd.opts.check {
				checked = append(checked, sd.name)
				if first == nil {
					first = &b.servers[i].opts
				}
				t.checkOpts(b, sd, *first)
			} else {
				unchecked = append(unchecked, sd.name)
			}
		}
		b.be.Servers = append(b.be.Servers, bs)
	}
	p.Health = t.health(b, first)
	if len(checked) > 0 && len(unchecked) > 0 {
		t.ws.warn(b.s.Line, "backend %s: servers %s have no check but rdpbroker checks a whole pool: they are checked too", b.s.Name, list(unchecked, 10))
	}
	return p
}

// health is the pool's health check from the first checked server.
func (t *translator) health(b *backendState, first *srvOpts) routing.HealthConfig {
	if first == nil {
		return routing.HealthConfig{Check: routing.CheckNone}
	}
	h := routing.HealthConfig{Check: routing.CheckTCP, Interval: first.inter, Rise: first.rise, Fall: first.fall}
	if h.Interval <= 0 {
		h.Interval = haproxyInter
	}
	if h.Rise < 1 {
		h.Rise = haproxyRise
	}
	if h.Fall < 1 {
		h.Fall = haproxyFall
	}
	switch {
	case b.checkTimeout > 0:
		h.Timeout = b.checkTimeout
	case b.connect > 0:
		h.Timeout = min(b.connect, h.Interval)
	default:
		h.Timeout = h.Interval
	}
	return h
}

// checkOpts reports check settings that differ from the pool's (taken
// from the first checked server) or check another port.
func (t *translator) checkOpts(b *backendState, sd srvDecl, first srvOpts) {
	if sd.opts.inter != first.inter || sd.opts.rise != first.rise || sd.opts.fall != first.fall {
		t.ws.warn(sd.line, "server %s: check settings differ from the backend's first checked server; rdpbroker checks a pool one way: the first server's are used", sd.name)
	}
	port := sd.opts.port
	line := sd.line
	if b.tcpCheckPort >= 0 {
		port, line = b.tcpCheckPort, b.tcpCheckLine
	}
	if _, sp, err := net.SplitHostPort(sd.addr); port >= 0 && (err != nil || sp != strconv.Itoa(port)) {
		t.ws.warn(line, "server %s: HAProxy checked port %d; rdpbroker checks the server's own address %s", sd.name, port, sd.addr)
	}
}

// server translates one server line; false when it is left out.
func (t *translator) server(b *backendState, sd srvDecl) (routing.ServerConfig, bool) {
	if sd.opts.backup || sd.opts.disabled {
		what := "backup (used only when every other server is down)"
		if sd.opts.disabled {
			what = "disabled"
		}
		t.ws.warn(sd.line, "server %s is %s: rdpbroker has no such server: left out of pool %s", sd.name, what, b.s.Name)
		return routing.ServerConfig{}, false
	}
	addr, err := hostPort(sd.addr, "")
	if err != nil && strings.Contains(err.Error(), "no port") {
		addr, err = hostPort(sd.addr, "3389")
		t.ws.warn(sd.line, "server %s: no port (HAProxy used the port the client connected to): 3389", sd.name)
	}
	if err != nil {
		t.ws.warn(sd.line, "server %s: %v: left out of pool %s", sd.name, err, b.s.Name)
		return routing.ServerConfig{}, false
	}
	if owner, dup := t.o.addresses[addr]; dup {
		t.ws.warn(sd.line, "server %s: %s is already in pool %s, and an rdpbroker server belongs to one pool: left out of pool %s", sd.name, addr, owner, b.s.Name)
		return routing.ServerConfig{}, false
	}
	name := sd.name
	if owner, dup := t.o.serverNames[name]; dup {
		name = b.s.Name + "-" + sd.name
		t.ws.warn(sd.line, "server %s: the name is taken in pool %s (rdpbroker server names are global): named %s", sd.name, owner, name)
	}
	t.o.addresses[addr], t.o.serverNames[name] = b.s.Name, b.s.Name
	sc := routing.ServerConfig{Name: name, Address: addr, Weight: max(sd.opts.weight, 1), MaxSessions: max(sd.opts.maxconn, 0)}
	if sd.opts.weight == 0 {
		t.ws.warn(sd.line, "server %s: weight 0 (no new users) is not a weight in rdpbroker: weight 1; drain it instead (an admin state)", sd.name)
	}
	return sc, true
}
