package statuspage

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"time"
)

var (
	//go:embed page.html.tmpl
	pageHTML string
	//go:embed style.css
	styleCSS string
)

// RefreshSeconds is how often the page reloads itself.
const RefreshSeconds = 5

// Options are the page's dependencies; zero values get defaults.
type Options struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Window is how far back "recent refusals" look. Default 5m.
	Window time.Duration
	// Logger receives template errors. Default slog.Default().
	Logger *slog.Logger
}

// Page is the status page, an http.Handler.
type Page struct {
	src  Source
	opts Options
	tmpl *template.Template
	hist *history
}

// New returns the page over src. It takes a first sample of the refusal
// counters, from which "recent" counts until Window has passed.
func New(src Source, opts Options) *Page {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Window <= 0 {
		opts.Window = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Page{
		src:  src,
		opts: opts,
		tmpl: template.Must(template.New("page").Funcs(funcs(opts.Now)).Parse(pageHTML)),
		hist: &history{window: opts.Window},
	}
	p.hist.add(opts.Now(), src.Status().Refusals)
	return p
}

// ServeHTTP renders the page.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := p.tmpl.Execute(&buf, p.view()); err != nil {
		p.opts.Logger.Error("status page: render", "err", err)
		http.Error(w, "status page: render failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	w.Write(buf.Bytes())
}

// view is what the template renders.
type view struct {
	Snapshot
	Now      time.Time
	Refresh  int
	CSS      template.CSS
	Alerts   []alert
	Refused  []refusal
	Since    string // the span "recent" covers
	Servers  int
	Usable   int
	InTouch  int
	DirState string // ok, stale, none
}

type alert struct {
	Pool   string
	Server Server
}

type refusal struct {
	Reason        string
	Recent, Total uint64
}

func (p *Page) view() view {
	now := p.opts.Now()
	s := p.src.Status()
	v := view{Snapshot: s, Now: now, Refresh: RefreshSeconds, CSS: template.CSS(styleCSS)}
	for _, pool := range s.Pools {
		for _, srv := range pool.Servers {
			v.Servers++
			if srv.State == StateUp {
				v.Usable++
			} else {
				v.Alerts = append(v.Alerts, alert{Pool: pool.Name, Server: srv})
			}
		}
	}
	sort.SliceStable(v.Alerts, func(i, j int) bool { return rank(v.Alerts[i].Server.State) < rank(v.Alerts[j].Server.State) })
	for _, peer := range s.Peers {
		if peer.Connected {
			v.InTouch++
		}
	}
	v.DirState = "none"
	if d := s.Directory; d != nil {
		v.DirState = "ok"
		if d.Stale || d.LastError != "" {
			v.DirState = "stale"
		}
	}
	base, since := p.hist.baseline(now, s.Refusals)
	v.Since = ago(now, since)
	for reason, total := range s.Refusals {
		if total > 0 {
			v.Refused = append(v.Refused, refusal{Reason: reason, Recent: total - min(base[reason], total), Total: total})
		}
	}
	sort.Slice(v.Refused, func(i, j int) bool {
		a, b := v.Refused[i], v.Refused[j]
		if a.Recent != b.Recent {
			return a.Recent > b.Recent
		}
		return a.Reason < b.Reason
	})
	return v
}

// rank orders alerts: down first, then draining, then maintenance.
func rank(state string) int {
	switch state {
	case StateDown:
		return 0
	case StateDraining:
		return 1
	}
	return 2
}

func funcs(now func() time.Time) template.FuncMap {
	return template.FuncMap{
		"ago":   func(t time.Time) string { return ago(now(), t) },
		"clock": func(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") },
		"label": label,
		"cap": func(n int) string {
			if n == 0 {
				return "∞"
			}
			return fmt.Sprint(n)
		},
	}
}

// label is the text shown for a state.
func label(state string) string {
	switch state {
	case StateUp:
		return "UP"
	case StateDown:
		return "DOWN"
	case StateDraining:
		return "DRAINING"
	case StateMaint:
		return "MAINTENANCE"
	}
	return state
}

// ago is a rounded age: "12s ago", "3m20s ago", "2h5m ago", "3 days ago",
// "never".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		return pair(int(d/time.Minute), "m", int(d%time.Minute/(10*time.Second))*10, "s")
	case d < 48*time.Hour:
		return pair(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "m")
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// pair formats "3m20s ago", or "3m ago" when the second unit is 0.
func pair(a int, ua string, b int, ub string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s ago", a, ua)
	}
	return fmt.Sprintf("%d%s%d%s ago", a, ua, b, ub)
}
