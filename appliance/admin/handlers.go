package admin

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The handlers of API, one per call (routes in api.go).

func (a *API) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.b.Status())
}

func (a *API) servers(w http.ResponseWriter, r *http.Request) {
	list, err := a.b.Servers(r.URL.Query().Get("pool"))
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (a *API) changeServer(w http.ResponseWriter, r *http.Request) {
	c := ServerChange{Action: r.PathValue("action")}
	if r.ContentLength != 0 && !readJSON(w, r, &c) {
		return
	}
	name := r.PathValue("name")
	switch c.Action {
	case "drain", "maint", "enable", "weight":
	default:
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown action %q: drain, maint, enable or weight", c.Action))
		return
	}
	what := c.Action
	switch {
	case c.Action == "drain" && c.UntilRestart:
		what = "drain --until-restart"
	case c.Action == "weight":
		what = "weight " + strconv.Itoa(c.Weight)
	}
	before, after, err := a.b.ChangeServer(name, c, Who(r.Context()))
	a.done(w, r, what, name, before, after, err)
}

func (a *API) sessions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	server, login := q.Get("server"), q.Get("login")
	out := []Session{}
	for _, s := range a.b.Sessions() {
		if server != "" && s.Server != server {
			continue
		}
		if login != "" && !strings.EqualFold(s.Login, login) && !sameUser(s.Login, login) {
			continue
		}
		out = append(out, s)
	}
	writeJSON(w, http.StatusOK, out)
}

// sameUser: "CORP\alice" and "alice@corp" name the session key "alice".
func sameUser(key, login string) bool {
	l := strings.ToLower(strings.TrimSpace(login))
	if i := strings.IndexByte(l, '\\'); i >= 0 {
		l = l[i+1:]
	}
	if i := strings.LastIndexByte(l, '@'); i >= 0 {
		l = l[:i]
	}
	return l != "" && strings.EqualFold(key, l)
}

func (a *API) kill(w http.ResponseWriter, r *http.Request) {
	idText := r.PathValue("id")
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("session id %q: want a number", idText))
		return
	}
	s, ok := a.b.Kill(id)
	if !ok {
		a.done(w, r, "kill", idText, nil, nil, fmt.Errorf("%w: no session %d", ErrNotFound, id))
		return
	}
	a.done(w, r, "kill", idText, s, nil, nil)
}

func (a *API) killLogin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Login string `json:"login"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if strings.TrimSpace(body.Login) == "" {
		writeError(w, http.StatusBadRequest, fmt.Errorf("login: empty"))
		return
	}
	killed := a.b.KillLogin(body.Login)
	if len(killed) == 0 {
		a.done(w, r, "kill --login", body.Login, nil, nil, fmt.Errorf("%w: no session of %s", ErrNotFound, body.Login))
		return
	}
	a.done(w, r, "kill --login", body.Login, killed, []Session{}, nil)
}

func (a *API) affinityList(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit")
	if err == nil {
		var list []AffinityEntry
		if list, err = a.b.AffinityList(r.URL.Query().Get("server"), limit); err == nil {
			if list == nil {
				list = []AffinityEntry{}
			}
			writeJSON(w, http.StatusOK, list)
			return
		}
	}
	writeError(w, statusOf(err), err)
}

func (a *API) affinityGet(w http.ResponseWriter, r *http.Request) {
	login := r.URL.Query().Get("login")
	e, ok, err := a.b.AffinityGet(login)
	switch {
	case err != nil:
		writeError(w, statusOf(err), err)
	case !ok:
		writeError(w, http.StatusNotFound, fmt.Errorf("no affinity entry for %q", login))
	default:
		writeJSON(w, http.StatusOK, e)
	}
}

func (a *API) affinitySet(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Login  string `json:"login"`
		Server string `json:"server"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	before, after, err := a.b.AffinitySet(body.Login, body.Server)
	a.done(w, r, "affinity set", body.Login, before, after, err)
}

func (a *API) affinityDelete(w http.ResponseWriter, r *http.Request) {
	login := r.URL.Query().Get("login")
	before, err := a.b.AffinityDelete(login)
	a.done(w, r, "affinity del", login, before, nil, err)
}

// count is the before/after of the bulk affinity calls.
type count struct {
	Server  string `json:"server"`
	Entries int    `json:"entries"`
}

func (a *API) affinityMove(w http.ResponseWriter, r *http.Request) {
	var body struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	n, err := a.b.AffinityMoveServer(body.From, body.To)
	a.done(w, r, "affinity move-server", body.From+" -> "+body.To,
		count{body.From, n}, count{body.To, n}, err)
}

func (a *API) affinityClear(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Server string `json:"server"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	n, err := a.b.AffinityClearServer(body.Server)
	a.done(w, r, "affinity clear-server", body.Server, count{body.Server, n}, count{body.Server, 0}, err)
}

func (a *API) explain(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	x, err := a.b.Explain(ExplainRequest{Login: q.Get("login"), From: q.Get("from"), Token: q.Get("token")})
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func (a *API) sync(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), SyncTimeout)
	defer cancel()
	d, err := a.b.SyncNow(ctx)
	if err != nil && d.Source == "" {
		a.done(w, r, "sync now", "directory", nil, nil, err)
		return
	}
	// A failed sync is a result to show, not a refusal of the call.
	a.done(w, r, "sync now", "directory", nil, d, nil)
}

func (a *API) reload(w http.ResponseWriter, r *http.Request) {
	err := a.b.Reload()
	res := Reload{Accepted: err == nil}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				res.Errors = append(res.Errors, line)
			}
		}
	}
	rec := Record{Who: Who(r.Context()), What: "reload", Target: "configuration", After: res}
	if err != nil {
		rec.Error = err.Error()
	}
	a.audit.Record(rec)
	status := http.StatusOK
	if err != nil {
		status = http.StatusConflict
	}
	writeJSON(w, status, res)
}

func (a *API) upgrade(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), UpgradeTimeout)
	defer cancel()
	err := a.b.Upgrade(ctx)
	a.done(w, r, "upgrade", "binary", nil, "handed over", err)
}
