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
