package appliance

import (
	"encoding/binary"
	"encoding/hex"
	"sort"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/rdpbroker/rdpbroker/rdp"
)

// SessionInfo is one relayed session as the admin API shows it.
type SessionInfo struct {
	ID         uint64    `json:"id"`
	Client     string    `json:"client"`
	Cookie     string    `json:"cookie,omitempty"`
	Login      string    `json:"login"` // the decision's key (normalised login)
	Rule       string    `json:"rule"`
	Pool       string    `json:"pool"`
	Server     string    `json:"server"`
	ServerAddr string    `json:"server_addr"`
	Since      time.Time `json:"since"`
	// BytesIn (client -> server, the replayed first packet included) and
	// BytesOut (server -> client) so far, read from the kernel's TCP_INFO
	// of the client's socket (bytes received; bytes sent and acknowledged):
	// the relay splices, so no byte passes through a counter of ours.
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	// CorrelationID is the Connection Request's RDP_NEG_CORRELATION_INFO in
	// hex ("" without one); UDP is set once a UDP flow is attached.
	CorrelationID string `json:"correlation_id,omitempty"`
	UDP           bool   `json:"udp"`
}

// Sessions returns the sessions being relayed, oldest first.
func (b *Broker) Sessions() []SessionInfo {
	b.mu.Lock()
	out := make([]SessionInfo, 0, len(b.sessions))
	for _, s := range b.sessions {
		out = append(out, s.info())
	}
	b.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Kill closes session id: its relay ends, the session line is logged as
// usual. It returns the session, false when there is none with that id.
func (b *Broker) Kill(id uint64) (SessionInfo, bool) {
	b.mu.Lock()
	s, ok := b.sessions[id]
	b.mu.Unlock()
	if !ok {
		return SessionInfo{}, false
	}
	info := s.info()
	s.close()
	return info, true
}

// KillLogin closes every session of login (any form of it: "CORP\alice",
// "alice@corp", "alice") and returns them.
func (b *Broker) KillLogin(login string) []SessionInfo {
	var victims []*session
	b.mu.Lock()
	for _, s := range b.sessions {
		if SameLogin(s.log.Login, login) {
			victims = append(victims, s)
		}
	}
	b.mu.Unlock()
	out := make([]SessionInfo, 0, len(victims))
	for _, s := range victims {
		out = append(out, s.info())
		s.close()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SameLogin reports whether key (a decision's key) is the user an operator
// typed as login: equal ignoring case, or equal to its normalised name.
func SameLogin(key, login string) bool {
	if key == "" {
		return false
	}
	return strings.EqualFold(key, strings.TrimSpace(login)) || key == rdp.NormalizeLogin(login).Key()
}

// info is the session's SessionInfo. The log fields it reads were set
// before the session was tracked and are not written again until it is
// untracked; the caller holds b.mu or took s from the map under it.
func (s *session) info() SessionInfo {
	i := SessionInfo{ID: s.id, Client: s.log.Client, Cookie: s.log.Cookie, Login: s.log.Login,
		Rule: s.log.Rule, Pool: s.log.Pool, Server: s.log.Server, ServerAddr: s.log.ServerAddr, Since: s.started,
		UDP: s.log.udp.Load()}
	if s.log.HasCorrelation {
		i.CorrelationID = hex.EncodeToString(s.log.CorrelationID[:])
	}
	if sc, ok := s.client.(syscall.Conn); ok {
		i.BytesIn, i.BytesOut = tcpBytes(sc)
	}
	return i
}

// tcpBytes reads tcpi_bytes_received and tcpi_bytes_acked from the
// socket's TCP_INFO (Linux 4.2+; 0, 0 when unavailable).
func tcpBytes(c syscall.Conn) (received, acked int64) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0
	}
	// struct tcp_info: tcpi_bytes_acked at offset 120, tcpi_bytes_received
	// at 128 (after the u32 fields and the two u64 pacing rates).
	var buf [136]byte
	n := uint32(len(buf))
	rc.Control(func(fd uintptr) {
		_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		if e != 0 {
			n = 0
		}
	})
	if n < 136 {
		return 0, 0
	}
	acked = int64(binary.NativeEndian.Uint64(buf[120:128]))
	received = int64(binary.NativeEndian.Uint64(buf[128:136]))
	return received, acked
}
