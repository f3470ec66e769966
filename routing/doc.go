// Package routing decides where an RDP connection goes: pools of terminal
// servers with their live state, rules that map a request to a pool,
// balancing policies, active health checks, passive failure tracking, and
// the Router that turns a Request into a Decision.
//
// Typical use:
//
//	r := routing.NewRouter(routing.RouterOptions{Logger: logger})
//	if err := r.Apply(cfg); err != nil { // cfg: a routing.Config, e.g. decoded from YAML
//		return err // every problem, one per line, each with its YAML key path
//	}
//	go r.Run(ctx) // health checks
//	defer r.Close()
//
//	// for each connection:
//	d := r.Decide(routing.Request{Cookie: cr.Cookie, Login: rdp.NormalizeLogin(cr.Cookie),
//		Token: cr.Token, Client: clientIP, Now: time.Now()})
//	if d.Err != nil {
//		return d.Err // refused: errors.Is(d.Err, routing.ErrNoServer) etc.; d.Why says why
//	}
//	srv, conn := connect(d.Candidates) // the try order
//
//	func connect(candidates []*routing.Server) (*routing.Server, net.Conn) {
//		for _, srv := range candidates {
//			if !srv.Acquire() {
//				continue // became full meanwhile
//			}
//			conn, err := net.DialTimeout("tcp", srv.Address, 3*time.Second)
//			if err != nil {
//				srv.ReportConnectFailure(time.Now())
//				srv.Release()
//				continue
//			}
//			srv.ReportConnectSuccess()
//			return srv, conn // the caller calls srv.Release() when the session ends
//		}
//		return nil, nil
//	}
//
// A decision is a pure function of the request and the current routing
// state: no sockets, no disk, no blocking. The admin "route explain" and
// the tests call the same Table.Decide.
//
// Decide order: an msts routing token is honoured only when it names a
// configured server that can take the user (never another address); a
// request without cookie or token is refused (no_cookie: reject) or goes
// through the rules to the default pool; otherwise the Directory resolves
// the login to identities (several for a truncated mstsc cookie), each
// identity takes the first matching rule, and if they disagree the
// ambiguous policy decides. Then the Affinity table, if any, is asked for
// the user's server: an entry whose server is in the chosen pool and up
// wins over balancing (also while the server drains: returning users
// reach their sessions); maintenance, a removed server or a server of
// another pool drop the entry; a server down for less than down_grace
// refuses the client at once (its session may come back), after that the
// user is balanced and the entry rewritten (Router.Placed after connect).
// Otherwise the pool's Policy orders its available servers.
//
// Reloads compile a new immutable Table and swap it atomically; servers
// that keep their pool, name and address keep their live state. The
// directory sync hands its snapshots over with Router.SetDirectory.
//
// # Admin overrides
//
// The operator's say on a server (override.go), kept by server name by the
// Router across reloads and put in force on servers of every new table:
//
//	before, err := r.SetOverride("ts01", routing.Override{State: routing.Drain,
//		UntilRestart: true, By: "uid 1000"}) // At: the router's clock when zero
//	if errors.Is(err, routing.ErrUnknownServer) { ... }
//	before, err = r.SetOverride("ts02", routing.Override{State: routing.Active, Weight: 5}) // 0 = configured weight
//	before, err = r.ClearOverride("ts01") // active again, configured weight
//	all := r.Overrides()                  // server name -> Override, also for servers a reload removed
//	r.OnOverrideEnded(func(server string, before, after routing.Override, kept bool) { ... })
//
// Drain takes no new user; users affined to the server and msts routing
// tokens still reach it. Maintenance takes nobody; an affinity entry to it
// is dropped when its user comes. A weight override replaces the
// configured weight in both balancing policies (Server.EffectiveWeight).
// UntilRestart (drain only, servers with an active health check) ends the
// drain by itself once the health checks have seen the server go down and
// come up again; OnOverrideEnded's function is then told, so the change
// can be replicated and persisted. Server.SetAdminState remains the
// low-level switch without bookkeeping.
//
// # Status and totals
//
// Server.Status returns a ServerStatus: configuration (ConfiguredWeight,
// MaxSessions, Check), state in force (Weight is the effective weight,
// Admin, Override with By and At, UntilRestart, Healthy, Available,
// Sessions, FailedUntil, State()), the last active check (LastCheck,
// LastError, LastCheckDuration, CheckFailures in a row) and totals since
// start that survive reloads: SessionsTotal, BytesIn and BytesOut (the
// appliance calls Server.CountSession(in, out) when a session ends),
// ConnectFailuresTotal (every ReportConnectFailure, also with max_fails
// 0) and CheckFailuresTotal.
//
// # Route explain
//
// Router.Explain(req) (explain.go) runs Decide's very code with a tracer
// (nil on Decide's path, which allocates nothing more for it) and returns
// an Explanation: the Decision, the rule, pool and server a connection
// would get now, every rule tried per identity and the criterion that
// failed (Steps), the identities and groups with the directory's source
// (DirectorySource, optional on a Directory), the affinity entry and its
// outcome, and every server of the pool with its state, rank in the try
// order or why it is excluded. Explain writes nothing: no affinity entry
// is placed or dropped, and the policies only peek (Peeker) at their next
// order, so the next real connection goes where the explanation says if
// nothing changes meanwhile. Its JSON form has at least "rule", "pool",
// "server", "candidates" and "steps".
package routing
