package routing

import "time"

// ReportConnectFailure records a failed connect at now. After MaxFails
// consecutive failures (passive.max_fails) the server is unavailable until
// now+FailTimeout; each further failure extends that. With max_fails 0 it
// only counts the failure (ServerStatus.ConnectFailuresTotal).
func (s *Server) ReportConnectFailure(now time.Time) {
	s.st.totals.connectFailure.Add(1)
	if s.maxFails <= 0 {
		return
	}
	if n := s.st.fails.Add(1); n >= int64(s.maxFails) {
		if !s.passivelyFailed(now) {
			s.st.passiveDownAt.Store(now.UnixNano())
		}
		s.st.downUntil.Store(now.Add(s.failTimeout).UnixNano())
	}
}

// ReportConnectSuccess records a successful connect: the failure count
// is reset and a passive failure ends.
func (s *Server) ReportConnectSuccess() {
	if s.st.fails.Load() != 0 {
		s.st.fails.Store(0)
	}
	if s.st.downUntil.Load() != 0 {
		s.st.downUntil.Store(0)
	}
}

// passivelyFailed reports whether passive tracking keeps the server out at now.
func (s *Server) passivelyFailed(now time.Time) bool {
	u := s.st.downUntil.Load()
	return u != 0 && now.UnixNano() < u
}
