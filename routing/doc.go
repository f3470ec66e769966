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
//	d := r.Decide(routing.Request{Login: rdp.NormalizeLogin(cookie), Token: token, Client: ip, Now: time.Now()})
//	if d.Err != nil {
//		// refused: errors.Is(d.Err, routing.ErrNoServer) etc.; d.Why says why
//	}
//	for _, srv := range d.Candidates { // the try order
//		if !srv.Acquire() {
//			continue // full meanwhile
//		}
//		conn, err := dial(srv.Address)
//		if err != nil {
//			srv.ReportConnectFailure(time.Now())
//			srv.Release()
//			continue
//		}
//		srv.ReportConnectSuccess()
//		defer srv.Release() // when the session ends
//		// ... proxy ...
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
// ambiguous policy decides. The pool's Policy then orders its available
// servers.
//
// Reloads compile a new immutable Table and swap it atomically; servers
// that keep their pool, name and address keep their live state.
package routing
