package appliance

import (
	"encoding/hex"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/routing"
)

// sessionLog is what one connection's log line says, filled in stage by
// stage: the request and decision (also on a refusal), then the server, the
// timings, the bytes and how the session ended.
type sessionLog struct {
	ID     uint64
	Client string

	Cookie   string // the mstshash cookie as sent
	Token    string // a routing token other than the cookie (msts, tsv)
	Login    string // the decision's key (normalised login)
	Rule     string
	Pool     string
	Affinity string // the affinity outcome, if any
	Learned  string // no_cookie learned: the outcome (routing.Learned*)
	Why      string // the router's explanation of a refusal
	decided  bool   // the fields above are set

	Server     string
	ServerAddr string
	Tries      int
	Connect    time.Duration // accept to connected
	Duration   time.Duration // connected to end
	BytesIn    int64         // client -> server, including the replayed first packet
	BytesOut   int64         // server -> client
	End        string        // relay.Result.End

	// HasCorrelation and CorrelationID are the Connection Request's
	// RDP_NEG_CORRELATION_INFO: a UDP flow whose SYN carries the same id
	// belongs to this session (udp.go).
	HasCorrelation bool
	CorrelationID  [16]byte
	// udp is set once a UDP flow was attached (by the UDP relay's goroutine).
	udp atomic.Bool
}

func (l *sessionLog) setRequest(req rdp.ConnRequest) {
	l.Cookie = req.Cookie
	l.HasCorrelation, l.CorrelationID = req.HasCorrelation, req.CorrelationID
	if req.Token.Kind != rdp.TokenNone && req.Token.Kind != rdp.TokenCookie {
		l.Token = req.Token.Raw
	}
}

func (l *sessionLog) setDecision(d routing.Decision) {
	l.decided = true
	l.Login, l.Rule, l.Pool, l.Affinity, l.Learned = d.Key, d.Rule, d.Pool, d.Affinity, d.Learned
	if d.Err != nil {
		l.Why = d.Why
	}
}

// decisionAttrs are the request and decision fields, as far as known.
func (l *sessionLog) decisionAttrs() []slog.Attr {
	var a []slog.Attr
	if l.Token != "" {
		a = append(a, slog.String("token", l.Token))
	}
	if !l.decided {
		return a // refused before a decision
	}
	a = append(a, slog.String("cookie", l.Cookie), slog.String("login", l.Login),
		slog.String("rule", l.Rule), slog.String("pool", l.Pool))
	if l.Affinity != routing.AffinityNone {
		a = append(a, slog.String("affinity", l.Affinity))
	}
	if l.Learned != "" {
		a = append(a, slog.String("learned", l.Learned))
	}
	if l.Why != "" {
		a = append(a, slog.String("why", l.Why))
	}
	return a
}

// sessionAttrs is the whole "session" line of a relayed session.
func (l *sessionLog) sessionAttrs() []slog.Attr {
	a := []slog.Attr{slog.Uint64("id", l.ID), slog.String("client", l.Client)}
	a = append(a, l.decisionAttrs()...)
	a = append(a,
		slog.String("server", l.Server), slog.String("server_addr", l.ServerAddr),
		slog.Int("tries", l.Tries),
		slog.Duration("connect", l.Connect), slog.Duration("duration", l.Duration),
		slog.Int64("bytes_in", l.BytesIn), slog.Int64("bytes_out", l.BytesOut), slog.String("end", l.End),
	)
	if l.HasCorrelation {
		a = append(a, slog.String("correlation_id", hex.EncodeToString(l.CorrelationID[:])))
	}
	udp := "no"
	if l.udp.Load() {
		udp = "yes"
	}
	return append(a, slog.String("udp", udp))
}
