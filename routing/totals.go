package routing

import "sync/atomic"

// totals are a server's counters since the broker started, for metrics.
// They live in the server's live state, so a reload does not reset them.
type totals struct {
	sessions       atomic.Uint64
	bytesIn        atomic.Uint64 // client -> server
	bytesOut       atomic.Uint64 // server -> client
	connectFailure atomic.Uint64
}

// CountSession counts one ended session and its bytes: in from the
// client to the server (the replayed first packet included), out from
// the server to the client. The appliance calls it once per session
// that reached the server (a successful connect after Acquire), when the
// session ends. Negative counts are taken as 0.
func (s *Server) CountSession(in, out int64) {
	s.st.totals.sessions.Add(1)
	s.st.totals.bytesIn.Add(nonNegative(in))
	s.st.totals.bytesOut.Add(nonNegative(out))
}

func nonNegative(n int64) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// fill copies the totals into st.
func (t *totals) fill(st *ServerStatus) {
	st.SessionsTotal = t.sessions.Load()
	st.BytesIn = t.bytesIn.Load()
	st.BytesOut = t.bytesOut.Load()
	st.ConnectFailuresTotal = t.connectFailure.Load()
}
