package routing

import "time"

// Policy is a balancing policy: it returns a try order.
type Policy interface {
	// Order appends the servers of servers that are Available at now to
	// dst, best first, and returns the extended slice. Decide keeps the
	// first 1+Retries. Order is called concurrently.
	Order(servers []*Server, now time.Time, dst []*Server) []*Server
}

// newPolicy returns the policy named by a validated balance value for a
// pool of n servers.
func newPolicy(balance string, n int) Policy {
	if balance == BalanceRoundRobin {
		return NewRoundRobin(n)
	}
	return &LeastConn{}
}

// Peeker is a Policy that can tell its next order without advancing its
// own state (a rotation, round robin weights): Explain uses it, so that
// explaining a route does not change where the next user goes. Both
// built-in policies implement it.
type Peeker interface {
	// Peek returns what Order would return now, leaving the policy as it
	// was.
	Peek(servers []*Server, now time.Time, dst []*Server) []*Server
}
