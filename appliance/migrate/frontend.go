package migrate

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// frontendKeys are the directives the frontend translates; backendKeys
// those the backends do. A defaults line is translated by whichever uses
// it.
var (
	frontendKeys = map[string]bool{"bind": true, "tcp-request": true, "acl": true, "use_backend": true,
		"default_backend": true, "maxconn": true}
	backendKeys = map[string]bool{"server": true, "default-server": true, "balance": true, "stick": true,
		"stick-table": true, "tcp-check": true, "persist": true, "retries": true, "hash-type": true,
		"fullconn": true, "stick-on": true}
)

// common handles directives with the same meaning everywhere (logging,
// mode, timeouts that do not route); it reports whether it did.
func (t *translator) common(d Directive) bool {
	args := d.Args()
	switch d.Keyword() {
	case "mode":
		return true // tcp; other modes are whole sections, skipped before
	case "log", "description", "enabled", "log-format", "log-tag", "unique-id-format":
		t.ws.note(d.Line, "%q: logging: no effect on routing: ignored (rdpbroker logs one line per session)", d.String())
		return true
	case "option":
		if len(args) > 0 && (args[0] == "tcplog" || args[0] == "dontlognull" || args[0] == "logasap" || args[0] == "log-health-checks") {
			t.ws.note(d.Line, "%q: logging: no effect on routing: ignored (rdpbroker logs one line per session)", d.String())
			return true
		}
		if len(args) > 0 && (args[0] == "tcpka" || args[0] == "clitcpka" || args[0] == "srvtcpka") {
			t.ws.note(d.Line, "%q: rdpbroker always sets TCP keepalive on both sides (keepalive.idle)", d.String())
			return true
		}
	case "timeout":
		if len(args) > 0 && (args[0] == "client" || args[0] == "server" || args[0] == "tunnel" || args[0] == "client-fin" || args[0] == "server-fin" || args[0] == "queue") {
			t.ws.note(d.Line, "%q: rdpbroker has no idle timeout: a session lasts until either side closes, TCP keepalive detects dead peers (keepalive.*), half_close_timeout bounds a half-closed one", d.String())
			return true
		}
	}
	return false
}

// frontend translates the frontend (or listen section) f: listener,
// inspect delay, ACLs and use_backend rules, default backend.
func (t *translator) frontend(f *Section) error {
	t.acls = map[string][]*aclDef{}
	var uses []Directive
	for _, d := range t.inherited(f) {
		own := d.Line >= f.Line
		if !own && !frontendKeys[d.Keyword()] {
			continue // a defaults line the backends translate or report
		}
		if f.Kind == "listen" && backendKeys[d.Keyword()] || t.common(d) {
			continue
		}
		switch d.Keyword() {
		case "bind":
			t.bind(d)
		case "tcp-request":
			t.tcpRequest(d)
		case "acl":
			if err := t.acl(d); err != nil {
				return err
			}
		case "use_backend":
			uses = append(uses, d)
		case "default_backend":
			if len(d.Args()) != 1 {
				t.ws.warn(d.Line, "%q: expected one backend: ignored", d.String())
				continue
			}
			t.o.defaultPool, t.o.defaultFrom = d.Args()[0], fmt.Sprintf("%s:%d %s", t.cfg.File, d.Line, d.String())
		case "maxconn":
			t.maxconn(d)
		default:
			if own {
				t.ws.warn(d.Line, "%q: not translated", d.String())
			}
		}
	}
	if t.o.listen == "" {
		return fmt.Errorf("migrate: %s:%d: %w: %s %s has no bind", t.cfg.File, f.Line, ErrTranslate, f.Kind, f.Name)
	}
	if f.Kind == "listen" && t.o.defaultPool == "" {
		t.o.defaultPool, t.o.defaultFrom = f.Name, fmt.Sprintf("%s:%d listen %s", t.cfg.File, f.Line, f.Name)
	}
	for _, d := range uses {
		if err := t.useBackend(d); err != nil {
			return err
		}
		if t.unconditional {
			break
		}
	}
	if t.o.defaultPool == "" {
		return fmt.Errorf("migrate: %s:%d: %w: %s %s has no default_backend (HAProxy refuses connections no rule matched; rdpbroker needs a default pool)",
			t.cfg.File, f.Line, ErrTranslate, f.Kind, f.Name)
	}
	if t.res.Backends[t.o.defaultPool] == nil {
		return fmt.Errorf("migrate: %s: %w: default backend %q is not a TCP backend", t.cfg.File, ErrTranslate, t.o.defaultPool)
	}
	return nil
}

// bind translates the first bind line into listen.
func (t *translator) bind(d Directive) {
	args := d.Args()
	if len(args) == 0 {
		t.ws.warn(d.Line, "%q: no address: ignored", d.String())
		return
	}
	if t.o.listen != "" {
		t.ws.warn(d.Line, "%q: rdpbroker listens on one address: only %s (%s) is translated", d.String(), t.o.listen, t.o.listenFrom)
		return
	}
	addrs := strings.Split(args[0], ",")
	if len(addrs) > 1 {
		t.ws.warn(d.Line, "%q: rdpbroker listens on one address: only %s is translated", d.String(), addrs[0])
	}
	listen, err := hostPort(addrs[0], "")
	if err != nil {
		t.ws.warn(d.Line, "%q: %v: ignored", d.String(), err)
		return
	}
	t.o.listen, t.o.listenFrom = listen, fmt.Sprintf("%s:%d %s", t.cfg.File, d.Line, d.String())
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "name", "id", "nice":
			i++ // labels
		case "transparent", "tfo", "v4v6", "v6only":
			t.ws.note(d.Line, "bind option %q: not translated (socket option)", args[i])
		default:
			t.ws.warn(d.Line, "bind option %q: not translated", args[i])
		}
	}
}

// hostPort turns an HAProxy address ("*:3389", ":3389", "10.0.0.1:3389",
// ":::3389", "ipv4@10.0.0.1:3389") into Go's host:port. With def set, a
// missing port becomes def.
func hostPort(s, def string) (string, error) {
	if i := strings.Index(s, "@"); i >= 0 {
		switch s[:i] {
		case "ipv4", "ipv6":
			s = s[i+1:]
		default:
			return "", fmt.Errorf("address family %q not supported", s[:i])
		}
	}
	host, port := s, def
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.HasSuffix(s, "]") {
		host, port = s[:i], s[i+1:]
	}
	host = strings.Trim(host, "[]")
	if host == "*" {
		host = ""
	}
	if port == "" {
		return "", fmt.Errorf("address %q has no port", s)
	}
	if strings.ContainsAny(port, "-+") {
		return "", fmt.Errorf("port %q: ranges and offsets are not supported", port)
	}
	return net.JoinHostPort(host, port), nil
}

// tcpRequest translates the inspect delay and the usual content rules.
func (t *translator) tcpRequest(d Directive) {
	args := d.Args()
	switch {
	case len(args) == 2 && args[0] == "inspect-delay":
		v, err := parseDuration(args[1])
		if err != nil {
			t.ws.warn(d.Line, "%q: %v: ignored", d.String(), err)
			return
		}
		if v > time.Minute {
			t.ws.warn(d.Line, "%q: rdpbroker's inspect_timeout is at most 1m: 1m", d.String())
			v = time.Minute
		}
		t.o.inspect, t.o.inspectFrom = v, fmt.Sprintf("%s:%d %s", t.cfg.File, d.Line, d.String())
	case strings.Join(args, " ") == "content accept if RDP_COOKIE":
		// rdpbroker reads the whole first packet, cookie or not; a
		// request without cookie goes to the rules then the default pool
		// (no_cookie: default), as HAProxy's after the inspect delay.
	case strings.Join(args, " ") == "content reject if !RDP_COOKIE" ||
		strings.Join(args, " ") == "content reject unless RDP_COOKIE":
		t.o.noCookie = "reject"
	default:
		t.ws.warn(d.Line, "%q: not translated (rdpbroker inspects the first packet itself, without tcp-request rules)", d.String())
	}
}
