package adminbackend

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/appliance/admin"
	"github.com/rdpbroker/rdpbroker/directory"
	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/routing"
)

// Explain implements admin.OpsBackend: the router's own explanation
// (routing.Router.Explain, the code of a real connection's decision) of a
// request built as the connection stage builds it.
func (x *Backend) Explain(req admin.ExplainRequest) (any, error) {
	r, err := x.request(req)
	if err != nil {
		return nil, err
	}
	e := x.b.Router().Explain(r)
	return explanation{Explanation: e, Directory: x.directory()}, nil
}

// explanation is the router's Explanation plus where the directory's
// membership comes from and how old it is.
type explanation struct {
	routing.Explanation
	Directory *admin.Directory `json:"directory,omitempty"`
}

// request is the routing.Request of a connection with req's cookie, token
// line and client address.
func (x *Backend) request(req admin.ExplainRequest) (routing.Request, error) {
	r := routing.Request{Cookie: req.Login, Login: rdp.NormalizeLogin(req.Login), Now: x.opts.Now()}
	if req.From != "" {
		a, err := netip.ParseAddr(req.From)
		if err != nil {
			return r, fmt.Errorf("%w: --from %q: not an IP address", admin.ErrInvalid, req.From)
		}
		r.Client = a.Unmap()
	}
	if req.Token != "" {
		tok, err := parseToken(req.Token)
		if err != nil {
			return r, fmt.Errorf("%w: --token %q: %w", admin.ErrInvalid, req.Token, err)
		}
		r.Token = tok
	}
	return r, nil
}

// parseToken parses a routing token line ("Cookie: msts=...", "msts=...",
// "tsv://MS Terminal Services Plugin.1.VDI") with rdp's own parser: the
// line goes through a Connection Request, as from a client.
func parseToken(line string) (rdp.RoutingToken, error) {
	if !strings.HasPrefix(strings.ToLower(line), "cookie:") && !strings.HasPrefix(strings.ToLower(line), "tsv://") {
		line = "Cookie: " + line
	}
	raw := rdp.BuildConnectionRequest(rdp.ConnRequest{Token: rdp.RoutingToken{Kind: rdp.TokenOther, Raw: line}})
	cr, err := rdp.ParseConnectionRequest(raw)
	if err != nil {
		return rdp.RoutingToken{}, err
	}
	return cr.Token, nil
}

// keyOf is the affinity key of login: the user the router's decision
// names (a directory identity, else the normalised name).
func (x *Backend) keyOf(login string) string {
	login = strings.TrimSpace(login)
	if k := x.b.Router().Explain(routing.Request{Cookie: login, Login: rdp.NormalizeLogin(login), Now: x.opts.Now()}).Key; k != "" {
		return k
	}
	return rdp.NormalizeLogin(login).Key()
}

func (x *Backend) directory() *admin.Directory {
	sy := x.b.Syncer()
	if sy == nil {
		return nil
	}
	d := directoryOf(sy.Status())
	return &d
}

func directoryOf(s directory.Status) admin.Directory {
	d := admin.Directory{Source: s.Source, Server: s.Server, LastAttempt: s.LastAttempt, LastSuccess: s.LastSuccess,
		LastError: s.LastError, Stale: s.Stale, Users: s.Users}
	if s.LastDuration > 0 {
		d.Took = s.LastDuration.Round(time.Millisecond).String()
	}
	return d
}
