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
package routing
