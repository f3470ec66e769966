package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// API serves /api/v1/... over a Backend: JSON in and out, every mutating
// call audited. Mount it on the admin socket (Socket) and, with TLS and a
// token, on admin.http (Options.API).
//
//	api := admin.NewAPI(backend, admin.APIOptions{Logger: log, Audit: admin.NewAudit(path, 0, log)})
type API struct {
	b     Backend
	log   *slog.Logger
	audit *Audit
	mux   *http.ServeMux
}

// APIOptions are the API's dependencies; nil fields get defaults.
type APIOptions struct {
	// Logger receives request errors. Default slog.Default().
	Logger *slog.Logger
	// Audit records mutating calls. Default: to the Logger only.
	Audit *Audit
}

// Timeouts of the long operations (the rest answer from memory).
const (
	SyncTimeout    = 2 * time.Minute
	UpgradeTimeout = 2 * time.Minute
	maxBody        = 64 << 10
)

// NewAPI returns the API over b.
func NewAPI(b Backend, opts APIOptions) *API {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Audit == nil {
		opts.Audit = NewAudit("", 0, opts.Logger)
	}
	a := &API{b: b, log: opts.Logger, audit: opts.Audit, mux: http.NewServeMux()}
	a.routes()
	return a
}

func (a *API) routes() {
	m := a.mux
	m.HandleFunc("GET /api/v1/status", a.status)
	m.HandleFunc("GET /api/v1/servers", a.servers)
	m.HandleFunc("POST /api/v1/servers/{name}/{action}", a.changeServer)
	m.HandleFunc("GET /api/v1/sessions", a.sessions)
	m.HandleFunc("DELETE /api/v1/sessions/{id}", a.kill)
	m.HandleFunc("POST /api/v1/sessions/kill", a.killLogin)
	m.HandleFunc("GET /api/v1/affinity", a.affinityList)
	m.HandleFunc("GET /api/v1/affinity/entry", a.affinityGet)
	m.HandleFunc("PUT /api/v1/affinity/entry", a.affinitySet)
	m.HandleFunc("DELETE /api/v1/affinity/entry", a.affinityDelete)
	m.HandleFunc("POST /api/v1/affinity/move-server", a.affinityMove)
	m.HandleFunc("POST /api/v1/affinity/clear-server", a.affinityClear)
	m.HandleFunc("GET /api/v1/route/explain", a.explain)
	m.HandleFunc("POST /api/v1/sync", a.sync)
	m.HandleFunc("POST /api/v1/reload", a.reload)
	m.HandleFunc("POST /api/v1/upgrade", a.upgrade)
	m.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no such call: %s %s", r.Method, r.URL.Path))
	})
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// --- callers ---

type whoKey struct{}

// WithWho returns ctx naming the caller for the audit ("uid 0 (root)",
// "token").
func WithWho(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, whoKey{}, who)
}

// Who is the caller named by WithWho ("token" for a request that passed
// the bearer token check, "unknown" otherwise).
func Who(ctx context.Context) string {
	if w, ok := ctx.Value(whoKey{}).(string); ok {
		return w
	}
	return "unknown"
}

// --- JSON helpers ---

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ErrorBody is the JSON of every refusal.
type ErrorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, ErrorBody{Error: err.Error()})
}

// statusOf maps a backend error to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrRefused):
		return http.StatusConflict
	case errors.Is(err, ErrNotSupported):
		return http.StatusNotImplemented
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return false
	}
	return true
}

// done answers a mutating call and audits it, successful or not: one
// record per call.
func (a *API) done(w http.ResponseWriter, r *http.Request, what, target string, before, after any, err error) {
	rec := Record{Who: Who(r.Context()), What: what, Target: target, Before: before, After: after}
	if err != nil {
		rec.Error = err.Error()
		rec.After = nil
	}
	a.audit.Record(rec)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, Change{Before: before, After: after})
}

func queryInt(r *http.Request, key string) (int, error) {
	s := r.URL.Query().Get(key)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s=%q: want a non-negative integer", ErrInvalid, key, s)
	}
	return n, nil
}

// AsToken names every caller of h "token" for the audit: wrap the API with
// it before giving it to the HTTP endpoint (Options.API), whose only
// callers past requireToken are token holders. Give the API to the HTTP
// endpoint only when it checks a token (TLS with token_file): on loopback
// without one, any local user could drain servers.
func AsToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithWho(r.Context(), "token")))
	})
}
